import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { deleteIndexedDbKeyStore, openIndexedDbKeyStore } from "../../src/crypto";
import { rawRecords } from "./rawrecords";

const text = (s: string) => new TextEncoder().encode(s);

function putRaw(dbName: string, name: string, value: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(dbName);
    open.onsuccess = () => {
      const tx = open.result.transaction("records", "readwrite");
      tx.objectStore("records").put(value, name);
      tx.oncomplete = () => {
        open.result.close();
        resolve();
      };
      tx.onerror = () => reject(tx.error);
    };
  });
}

describe("the sealed key store", () => {
  it("keeps records across reopening, sealed under a non-extractable key", async () => {
    const store = await openIndexedDbKeyStore("store-test-1");
    await store.put("a/1", text("secret one"));
    await store.put("a/2", text("secret two"));
    await store.put("b/1", text("other"));
    store.close();
    const again = await openIndexedDbKeyStore("store-test-1");
    expect(new TextDecoder().decode(await again.get("a/1"))).toBe("secret one");
    expect(await again.names("a/")).toEqual(["a/1", "a/2"]);
    await again.delete("a/1");
    expect(await again.get("a/1")).toBeUndefined();
    again.close();
    for (const value of await rawRecords("store-test-1")) {
      expect(Buffer.from(value).includes(Buffer.from("secret"))).toBe(false);
    }
    const wrapping = await new Promise<CryptoKey>((resolve) => {
      const open = indexedDB.open("store-test-1");
      open.onsuccess = () => {
        const req = open.result.transaction("meta").objectStore("meta").get("wrapping-key");
        req.onsuccess = () => {
          open.result.close();
          resolve(req.result as CryptoKey);
        };
      };
    });
    expect(wrapping.extractable).toBe(false);
    await expect(crypto.subtle.exportKey("raw", wrapping)).rejects.toThrow();
  });

  it("refuses a record moved to another name", async () => {
    const store = await openIndexedDbKeyStore("store-test-2");
    await store.put("identity", text("mine"));
    store.close();
    const [identity] = await rawRecords("store-test-2");
    await putRaw("store-test-2", "session/x", identity!);
    const again = await openIndexedDbKeyStore("store-test-2");
    await expect(again.get("session/x")).rejects.toThrow();
    again.close();
    await deleteIndexedDbKeyStore("store-test-2");
    const fresh = await openIndexedDbKeyStore("store-test-2");
    expect(await fresh.get("identity")).toBeUndefined();
    fresh.close();
  });
});
