import { createCipheriv, hkdfSync } from "node:crypto";
import { salamander } from "./salamander";
import { describe, expect, it } from "vitest";
import {
  CHUNK_HEADER_BYTES,
  CHUNK_OVERHEAD,
  CryptoError,
  newFileKey,
  openChunk,
  sealChunk,
  sealedChunkSize,
} from "../../src/crypto";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const unhex = (h: string) => new Uint8Array(Buffer.from(h, "hex"));
const text = (s: string) => new TextEncoder().encode(s);

// The fixed inputs of the known-answer tests.
const KEY = unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const FILE_ID = "01890a5d-ac96-774b-bcce-b302099a8057";

/**
 * The layout of docs/web-crypto.md written out again with node's own crypto (OpenSSL), so
 * the known answers below are checked against a second implementation, not only recorded.
 */
function referenceSeal(key: Uint8Array, fileId: string, index: number, last: boolean, plain: Uint8Array): Uint8Array {
  const id = Buffer.from(fileId, "utf8");
  const lp = Buffer.concat([Buffer.from([id.length >> 8, id.length & 0xff]), id]);
  const derive = (label: string) =>
    new Uint8Array(hkdfSync("sha256", key, Buffer.alloc(0), Buffer.concat([Buffer.from(label), lp]), 32));
  const encKey = derive("ciphertalk/file-chunk/v1/aes-256-gcm");
  const commitment = derive("ciphertalk/file-chunk/v1/commitment");
  const flags = last ? 1 : 0;
  const header = Buffer.alloc(CHUNK_HEADER_BYTES);
  header.writeUInt8(1, 0);
  header.writeUInt8(flags, 1);
  header.writeUInt32BE(index, 2);
  Buffer.from(commitment).copy(header, 6);
  const nonce = Buffer.alloc(12);
  nonce.writeUInt8(flags, 0);
  nonce.writeBigUInt64BE(BigInt(index), 4);
  const cipher = createCipheriv("aes-256-gcm", encKey, nonce);
  cipher.setAAD(Buffer.concat([header, lp]));
  const body = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  return new Uint8Array(Buffer.concat([header, body]));
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CryptoError);
  expect((error as CryptoError).code).toBe(code);
}

describe("file chunk format: known answers", () => {
  it("chunk 0, not last, 'hello'", async () => {
    const sealed = await sealChunk(KEY, FILE_ID, 0, false, text("hello"));
    expect(hex(sealed)).toBe(KAT_0);
    expect(hex(referenceSeal(KEY, FILE_ID, 0, false, text("hello")))).toBe(KAT_0);
  });

  it("chunk 7, last, 0x00..0x3f", async () => {
    const bytes = Uint8Array.from({ length: 64 }, (_, i) => i);
    const sealed = await sealChunk(KEY, FILE_ID, 7, true, bytes);
    expect(hex(sealed)).toBe(KAT_7_LAST);
    expect(hex(referenceSeal(KEY, FILE_ID, 7, true, bytes))).toBe(KAT_7_LAST);
  });

  it("an empty last chunk", async () => {
    const sealed = await sealChunk(KEY, FILE_ID, 1, true, new Uint8Array(0));
    expect(sealed.length).toBe(CHUNK_OVERHEAD);
    expect(hex(sealed)).toBe(hex(referenceSeal(KEY, FILE_ID, 1, true, new Uint8Array(0))));
  });
});

const KAT_0 =
  "010000000000ed6054dd9e2a74665f12416c2c41cb6dc9f0ddc7f36fa96692223b8af81a2dac1289b6f1e71dfe99d89d2e90aae2cd07a980799be7";
const KAT_7_LAST =
  "010100000007ed6054dd9e2a74665f12416c2c41cb6dc9f0ddc7f36fa96692223b8af81a2dac6892b7546473c7b478c73ad2e3fc59925d78b2a0718d40cfe025661d584acf91f66d5eaa36e8b9b53ed90436724ae02536118a33ab2e7b141f6e0feec200f0735b6957fab8eafac6bcb4a879fac40643";

describe("file chunk format: tampering", () => {
  const chunks = ["first chunk", "second chunk", "third and last"].map(text);

  async function sealAll(key: Uint8Array): Promise<Uint8Array[]> {
    return Promise.all(chunks.map((c, i) => sealChunk(key, FILE_ID, i, i === chunks.length - 1, c)));
  }

  it("opens every chunk at its position", async () => {
    const key = newFileKey();
    const sealed = await sealAll(key);
    for (const [i, s] of sealed.entries()) {
      expect(s.length).toBe(sealedChunkSize(chunks[i]!.length));
      const opened = await openChunk(key, FILE_ID, i, i === chunks.length - 1, s);
      expect(new TextDecoder().decode(opened)).toBe(new TextDecoder().decode(chunks[i]));
    }
  });

  it("refuses swapped chunks", async () => {
    const key = newFileKey();
    const [first, second] = await sealAll(key);
    await expectCode(openChunk(key, FILE_ID, 0, false, second!), "tampered");
    await expectCode(openChunk(key, FILE_ID, 1, false, first!), "tampered");
  });

  it("refuses a chunk whose header index was rewritten to the position it is served at", async () => {
    const key = newFileKey();
    const [, second] = await sealAll(key);
    const moved = new Uint8Array(second!);
    new DataView(moved.buffer).setUint32(2, 0);
    await expectCode(openChunk(key, FILE_ID, 0, false, moved), "tampered");
  });

  it("refuses a truncated last chunk", async () => {
    const key = newFileKey();
    const sealed = await sealAll(key);
    const last = sealed[2]!;
    await expectCode(openChunk(key, FILE_ID, 2, true, last.subarray(0, last.length - 1)), "tampered");
    await expectCode(openChunk(key, FILE_ID, 2, true, last.subarray(0, CHUNK_OVERHEAD - 1)), "malformed");
  });

  it("refuses a file cut short (its last chunk dropped) and a last flag set or cleared", async () => {
    const key = newFileKey();
    const sealed = await sealAll(key);
    // The server claims two chunks: the second is then expected to be the last one.
    await expectCode(openChunk(key, FILE_ID, 1, true, sealed[1]!), "tampered");
    const flipped = new Uint8Array(sealed[1]!);
    flipped[1] = 1;
    await expectCode(openChunk(key, FILE_ID, 1, true, flipped), "tampered");
    await expectCode(openChunk(key, FILE_ID, 2, false, sealed[2]!), "tampered");
  });

  it("refuses a chunk of another file", async () => {
    const key = newFileKey();
    const sealed = await sealAll(key);
    await expectCode(openChunk(key, "01890a5d-ac96-774b-bcce-b302099a8058", 0, false, sealed[0]!), "key_commitment_mismatch");
  });

  it("refuses a changed ciphertext byte", async () => {
    const key = newFileKey();
    const changed = new Uint8Array((await sealAll(key))[0]!);
    changed[CHUNK_HEADER_BYTES] = changed[CHUNK_HEADER_BYTES]! ^ 1;
    await expectCode(openChunk(key, FILE_ID, 0, false, changed), "tampered");
  });

  it("refuses a chunk under another key, even one crafted to pass AES-GCM under both keys", async () => {
    const key1 = newFileKey();
    const key2 = newFileKey();
    // The chunk's GCM keys, derived as the format says.
    const derive = (k: Uint8Array) => {
      const id = Buffer.from(FILE_ID);
      const lp = Buffer.concat([Buffer.from([0, id.length]), id]);
      return new Uint8Array(
        hkdfSync("sha256", k, Buffer.alloc(0), Buffer.concat([Buffer.from("ciphertalk/file-chunk/v1/aes-256-gcm"), lp]), 32),
      );
    };
    const honest = await sealChunk(key1, FILE_ID, 0, false, text("x"));
    const header = honest.subarray(0, CHUNK_HEADER_BYTES);
    const id = Buffer.from(FILE_ID);
    const aad = new Uint8Array(Buffer.concat([header, Buffer.from([0, id.length]), id]));
    const nonce = new Uint8Array(12);
    const body = salamander(derive(key1), derive(key2), nonce, aad);
    // Plain AES-GCM accepts the crafted body under both keys: GCM is not key-committing.
    for (const k of [key1, key2]) {
      const gcmKey = await crypto.subtle.importKey("raw", derive(k), "AES-GCM", false, ["decrypt"]);
      await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce, additionalData: aad }, gcmKey, body);
    }
    const crafted = new Uint8Array(header.length + body.length);
    crafted.set(header);
    crafted.set(body, header.length);
    // The chunk format opens it under the key its commitment names, and refuses the other.
    expect((await openChunk(key1, FILE_ID, 0, false, crafted)).length).toBe(32);
    await expectCode(openChunk(key2, FILE_ID, 0, false, crafted), "key_commitment_mismatch");
  });

  it("refuses bad inputs with a clear error", async () => {
    await expectCode(sealChunk(new Uint8Array(16), FILE_ID, 0, true, text("x")), "malformed");
    await expectCode(sealChunk(KEY, "", 0, true, text("x")), "malformed");
    await expectCode(sealChunk(KEY, FILE_ID, -1, true, text("x")), "malformed");
    await expectCode(sealChunk(KEY, FILE_ID, 2 ** 32, true, text("x")), "malformed");
  });
});
