import { fromBase64, toBase64 } from "./base64";
import type { KeyStore } from "./store";
import { utf8 } from "./bytes";

// JSON records in the KeyStore, with byte fields as base64 (one place for the encoding).

export async function getJson<T>(store: KeyStore, name: string): Promise<T | undefined> {
  const bytes = await store.get(name);
  return bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as T) : undefined;
}

export async function putJson(store: KeyStore, name: string, value: unknown): Promise<void> {
  await store.put(name, utf8(JSON.stringify(value)));
}

export const b64 = (bytes: ArrayBuffer | Uint8Array): string =>
  toBase64(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));

export const unb64 = (text: string): Uint8Array => fromBase64(text);

export const unb64Buffer = (text: string): ArrayBuffer => fromBase64(text).buffer as ArrayBuffer;
