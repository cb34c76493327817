// Opens this device's crypto engine (keys in IndexedDB, published on first use).
import type { ApiClient } from "../api/client";
import { deleteIndexedDbKeyStore, Engine, keyStoreName } from "../crypto";
import type { E2ee } from "./chat/e2ee";

export async function openE2ee(api: ApiClient, me: { userId: string; deviceId: string }): Promise<E2ee> {
  return Engine.open(api.keys, me);
}

/** Logs this device out; the server removes the device, so its keys go too. */
export async function logoutDevice(api: ApiClient, me: { userId: string; deviceId: string }): Promise<void> {
  await api.auth.logout().catch(() => undefined);
  await deleteIndexedDbKeyStore(keyStoreName(me.userId, me.deviceId)).catch(() => undefined);
}
