// Opens this device's crypto engine (keys in IndexedDB, published on first use).
import type { ApiClient } from "../api/client";
import { Engine } from "../crypto";
import type { E2ee } from "./chat/e2ee";

export async function openE2ee(api: ApiClient, me: { userId: string; deviceId: string }): Promise<E2ee> {
  return Engine.open(api.keys, me);
}
