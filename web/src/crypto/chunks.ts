import { concatBytes, equalBytes } from "@noble/ciphers/utils.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { buffer, lengthPrefixed } from "./bytes";
import { CryptoError } from "./errors";

// The encrypted file chunk format (docs/web-crypto.md, "File chunks").
//
// From the 32-byte file key and the file id, HKDF-SHA256 derives an AES-256-GCM key and a
// 32-byte key commitment. Each sealed chunk is
//   header = version (1) | flags (1, bit 0 = last chunk) | index (u32 big-endian) | commitment (32)
//   then AES-256-GCM(ciphertext | 16-byte tag)
// with nonce = flags (1) | 0 0 0 | index (u64 big-endian) and additional data
// header | u16 big-endian length of the file id | file id (UTF-8).
// GCM alone is not key-committing (several keys can open one ciphertext: "invisible
// salamanders"); checking the commitment before decrypting makes a chunk open under one
// file key only.

export const FILE_KEY_BYTES = 32;
export const CHUNK_VERSION = 1;
export const CHUNK_HEADER_BYTES = 1 + 1 + 4 + 32;
const TAG_BYTES = 16;
/** Bytes a sealed chunk adds to its plaintext. */
export const CHUNK_OVERHEAD = CHUNK_HEADER_BYTES + TAG_BYTES;
const FLAG_LAST = 0x01;
const MAX_INDEX = 0xffffffff;

const encoder = new TextEncoder();

/** A fresh random file key: one per file, never reused. */
export function newFileKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(FILE_KEY_BYTES));
}

/** The size of a sealed chunk whose plaintext has `plainBytes` bytes. */
export function sealedChunkSize(plainBytes: number): number {
  return plainBytes + CHUNK_OVERHEAD;
}

function fileIdBytes(fileId: string): Uint8Array {
  const bytes = encoder.encode(fileId);
  if (bytes.length === 0 || bytes.length > 0xffff) {
    throw new CryptoError("malformed", "file id must be 1..65535 bytes");
  }
  return bytes;
}

function checkFileKey(fileKey: Uint8Array): void {
  if (fileKey.length !== FILE_KEY_BYTES) throw new CryptoError("malformed", "file key must be 32 bytes");
}

function checkIndex(index: number): void {
  if (!Number.isInteger(index) || index < 0 || index > MAX_INDEX) {
    throw new CryptoError("malformed", "chunk index out of range");
  }
}

interface FileKeys {
  encryptionKey: CryptoKey;
  commitment: Uint8Array;
}

/** The per-file keys: the AES key (non-extractable) and the key commitment. */
async function deriveFileKeys(fileKey: Uint8Array, fileId: Uint8Array): Promise<FileKeys> {
  const boundId = lengthPrefixed(fileId);
  const info = (label: string) => {
    const l = encoder.encode(label);
    const out = new Uint8Array(l.length + boundId.length);
    out.set(l);
    out.set(boundId, l.length);
    return out;
  };
  const raw = hkdf(sha256, fileKey, undefined, info("ciphertalk/file-chunk/v1/aes-256-gcm"), 32);
  const commitment = hkdf(sha256, fileKey, undefined, info("ciphertalk/file-chunk/v1/commitment"), 32);
  const encryptionKey = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
  raw.fill(0);
  return { encryptionKey, commitment };
}

function header(flags: number, index: number, commitment: Uint8Array): Uint8Array {
  const out = new Uint8Array(CHUNK_HEADER_BYTES);
  const view = new DataView(out.buffer);
  view.setUint8(0, CHUNK_VERSION);
  view.setUint8(1, flags);
  view.setUint32(2, index);
  out.set(commitment, 6);
  return out;
}

function nonce(flags: number, index: number): Uint8Array {
  const out = new Uint8Array(12);
  const view = new DataView(out.buffer);
  view.setUint8(0, flags);
  view.setBigUint64(4, BigInt(index));
  return out;
}

function additionalData(head: Uint8Array, fileId: Uint8Array): Uint8Array {
  return concatBytes(head, lengthPrefixed(fileId));
}

/** Checks the inputs both directions share and derives the file's keys. */
async function fileContext(
  fileKey: Uint8Array,
  fileId: string,
  index: number,
): Promise<{ id: Uint8Array; keys: FileKeys }> {
  checkFileKey(fileKey);
  checkIndex(index);
  const id = fileIdBytes(fileId);
  return { id, keys: await deriveFileKeys(fileKey, id) };
}

/** Seal and open take the same arguments: the chunk's position, then its bytes. */
export type ChunkTransform = (
  fileKey: Uint8Array,
  fileId: string,
  index: number,
  isLast: boolean,
  bytes: Uint8Array,
) => Promise<Uint8Array>;

/**
 * Seals chunk `index` of file `fileId`. `isLast` marks the final chunk, so a file cut
 * short (its last chunk dropped) is detected. Never seal different bytes under the same
 * (fileKey, fileId, index): the nonce is derived from the index.
 */
export const sealChunk: ChunkTransform = async (fileKey, fileId, index, isLast, bytes) => {
  const { id, keys } = await fileContext(fileKey, fileId, index);
  const flags = isLast ? FLAG_LAST : 0;
  const head = header(flags, index, keys.commitment);
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: buffer(nonce(flags, index)), additionalData: buffer(additionalData(head, id)) },
      keys.encryptionKey,
      buffer(bytes),
    ),
  );
  return concatBytes(head, sealed);
};

/**
 * Opens chunk `index` of file `fileId`, which the caller expects to be the last one
 * (`isLast`, i.e. index = chunk_count - 1) or not. Throws a CryptoError unless the chunk is
 * exactly the one sealed at that position of that file under that key.
 */
export const openChunk: ChunkTransform = async (fileKey, fileId, index, isLast, sealed) => {
  const { id, keys } = await fileContext(fileKey, fileId, index);
  if (sealed.length < CHUNK_OVERHEAD) throw new CryptoError("malformed", "chunk too short");
  const view = new DataView(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (view.getUint8(0) !== CHUNK_VERSION) throw new CryptoError("malformed", "unknown chunk version");
  const flags = view.getUint8(1);
  if (flags !== (isLast ? FLAG_LAST : 0)) {
    throw new CryptoError("tampered", isLast ? "the last chunk is not marked last" : "chunk marked last too early");
  }
  if (view.getUint32(2) !== index) throw new CryptoError("tampered", "chunk is from another position");
  // The commitment is checked before decrypting: a chunk made for another key is refused.
  if (!equalBytes(sealed.subarray(6, CHUNK_HEADER_BYTES), keys.commitment)) {
    throw new CryptoError("key_commitment_mismatch", "chunk was not sealed under this file key");
  }
  const head = sealed.subarray(0, CHUNK_HEADER_BYTES);
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: buffer(nonce(flags, index)), additionalData: buffer(additionalData(head, id)) },
      keys.encryptionKey,
      buffer(sealed.subarray(CHUNK_HEADER_BYTES)),
    );
    return new Uint8Array(plain);
  } catch {
    throw new CryptoError("tampered", "chunk failed authentication");
  }
};
