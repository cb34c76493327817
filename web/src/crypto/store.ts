import { buffer, utf8 } from "./bytes";

// This device's secrets at rest. Every record is sealed with AES-256-GCM under a
// non-extractable WebCrypto key kept in the same IndexedDB database: script can use that
// key while the page runs but cannot export it, so a copy of the records taken off the
// device by script (or a backup of the records alone) is useless. The record's name is
// the associated data, so records cannot be swapped for one another.

/** Where the engine keeps its state: named byte strings. */
export interface KeyStore {
  get(name: string): Promise<Uint8Array | undefined>;
  put(name: string, value: Uint8Array): Promise<void>;
  delete(name: string): Promise<void>;
  /** Names that start with `prefix`, in ascending order. */
  names(prefix: string): Promise<string[]>;
  close(): void;
}

const RECORDS = "records";
const META = "meta";
const WRAPPING_KEY = "wrapping-key";
const IV_BYTES = 12;

/** The IndexedDB database name for one device of one user. */
export function keyStoreName(userId: string, deviceId: string): string {
  return `ciphertalk-keys/${userId}/${deviceId}`;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openDatabase(factory: IDBFactory, name: string): Promise<IDBDatabase> {
  const req = factory.open(name, 1);
  req.onupgradeneeded = () => {
    req.result.createObjectStore(RECORDS);
    req.result.createObjectStore(META);
  };
  return request(req);
}

async function loadOrCreateWrappingKey(db: IDBDatabase): Promise<CryptoKey> {
  const existing = await request(
    db.transaction(META, "readonly").objectStore(META).get(WRAPPING_KEY),
  );
  if (existing) return existing as CryptoKey;
  const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
    "encrypt",
    "decrypt",
  ]);
  // `add` fails if another tab created one meanwhile; then that one is used.
  try {
    await request(db.transaction(META, "readwrite").objectStore(META).add(key, WRAPPING_KEY));
    return key;
  } catch {
    const winner = await request(
      db.transaction(META, "readonly").objectStore(META).get(WRAPPING_KEY),
    );
    return winner as CryptoKey;
  }
}

class IndexedDbKeyStore implements KeyStore {
  constructor(
    private readonly db: IDBDatabase,
    private readonly wrappingKey: CryptoKey,
  ) {}

  async get(name: string): Promise<Uint8Array | undefined> {
    const sealed = (await request(
      this.db.transaction(RECORDS, "readonly").objectStore(RECORDS).get(name),
    )) as Uint8Array | undefined;
    if (!sealed) return undefined;
    const iv = sealed.subarray(0, IV_BYTES);
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: buffer(iv), additionalData: buffer(utf8(name)) },
      this.wrappingKey,
      buffer(sealed.subarray(IV_BYTES)),
    );
    return new Uint8Array(plain);
  }

  async put(name: string, value: Uint8Array): Promise<void> {
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv: buffer(iv), additionalData: buffer(utf8(name)) },
        this.wrappingKey,
        buffer(value),
      ),
    );
    const record = new Uint8Array(IV_BYTES + sealed.length);
    record.set(iv);
    record.set(sealed, IV_BYTES);
    await request(this.db.transaction(RECORDS, "readwrite").objectStore(RECORDS).put(record, name));
  }

  async delete(name: string): Promise<void> {
    await request(this.db.transaction(RECORDS, "readwrite").objectStore(RECORDS).delete(name));
  }

  async names(prefix: string): Promise<string[]> {
    // Every name with the prefix sorts between the prefix and the prefix + U+FFFF.
    const range = IDBKeyRange.bound(prefix, prefix + "\uffff");
    const keys = await request(
      this.db.transaction(RECORDS, "readonly").objectStore(RECORDS).getAllKeys(range),
    );
    return keys.map(String);
  }

  close(): void {
    this.db.close();
  }
}

/** Opens (or creates) the sealed key store in IndexedDB database `name`. */
export async function openIndexedDbKeyStore(
  name: string,
  factory: IDBFactory = globalThis.indexedDB,
): Promise<KeyStore> {
  const db = await openDatabase(factory, name);
  return new IndexedDbKeyStore(db, await loadOrCreateWrappingKey(db));
}

/** Deletes a device's key store (after logout or device removal). */
export async function deleteIndexedDbKeyStore(
  name: string,
  factory: IDBFactory = globalThis.indexedDB,
): Promise<void> {
  await request(factory.deleteDatabase(name));
}
