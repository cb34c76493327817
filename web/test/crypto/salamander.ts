import { createCipheriv } from "node:crypto";

// Test-only attack code: builds an "invisible salamander", one AES-GCM ciphertext and tag
// that authenticate under two different keys (Dodis, Grubbs, Ristenpart, Woodage 2018;
// Len, Grubbs, Ristenpart 2021). GHASH is linear in the ciphertext blocks, so one free
// block can be solved for. The GF(2^128) arithmetic follows NIST SP 800-38D, section 6.3.
// It shows what the chunk format's key commitment is for; it is not used by the client.

const R = 0xe1n << 120n;
const MASK = (1n << 128n) - 1n;

function gmul(x: bigint, y: bigint): bigint {
  let z = 0n;
  let v = y;
  for (let i = 127n; i >= 0n; i--) {
    if ((x >> i) & 1n) z ^= v;
    v = v & 1n ? (v >> 1n) ^ R : v >> 1n;
  }
  return z;
}

function gpow(x: bigint, e: bigint): bigint {
  let result = 1n << 127n; // the field's one in GCM's bit order
  let base = x;
  while (e > 0n) {
    if (e & 1n) result = gmul(result, base);
    base = gmul(base, base);
    e >>= 1n;
  }
  return result;
}

const inverse = (x: bigint) => gpow(x, (1n << 128n) - 2n);

const toBig = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString("hex") || "0"}`);
const toBlock = (n: bigint) => new Uint8Array(Buffer.from((n & MASK).toString(16).padStart(32, "0"), "hex"));

function aesBlock(key: Uint8Array, block: Uint8Array): bigint {
  const c = createCipheriv("aes-256-ecb", key, null).setAutoPadding(false);
  return toBig(new Uint8Array(Buffer.concat([c.update(block), c.final()])));
}

function blocks(bytes: Uint8Array): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const b = new Uint8Array(16);
    b.set(bytes.subarray(i, i + 16));
    out.push(toBig(b));
  }
  return out;
}

/**
 * A ciphertext of `cipherBlocks` blocks with tag (as WebCrypto wants them, tag appended)
 * that AES-256-GCM accepts under both `key1` and `key2` with this nonce and AAD.
 */
export function salamander(
  key1: Uint8Array,
  key2: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  cipherBlocks = 2,
): Uint8Array<ArrayBuffer> {
  const h1 = aesBlock(key1, new Uint8Array(16));
  const h2 = aesBlock(key2, new Uint8Array(16));
  const j0 = new Uint8Array(16);
  j0.set(nonce);
  j0[15] = 1;
  const s1 = aesBlock(key1, j0);
  const s2 = aesBlock(key2, j0);
  const ciphertext = new Uint8Array(cipherBlocks * 16);
  ciphertext.fill(0x42);
  const lengths = (BigInt(aad.length * 8) << 64n) | BigInt(ciphertext.length * 8);
  const free = cipherBlocks - 1; // the last ciphertext block is solved for
  const ghashInput = () => [...blocks(aad), ...blocks(ciphertext), lengths];
  const input = ghashInput();
  const total = input.length;
  const freeAt = blocks(aad).length + free;
  // GHASH_H(X) = sum X_i * H^(total - i); we need GHASH_H1 ^ GHASH_H2 = s1 ^ s2.
  const coefficient = (i: number) => gpow(h1, BigInt(total - i)) ^ gpow(h2, BigInt(total - i));
  let rest = s1 ^ s2;
  input.forEach((x, i) => {
    if (i !== freeAt) rest ^= gmul(x, coefficient(i));
  });
  const solved = gmul(rest, inverse(coefficient(freeAt)));
  ciphertext.set(toBlock(solved), free * 16);
  let ghash = 0n;
  ghashInput().forEach((x, i) => {
    ghash ^= gmul(x, gpow(h1, BigInt(total - i)));
  });
  const tag = toBlock(ghash ^ s1);
  const out = new Uint8Array(ciphertext.length + 16);
  out.set(ciphertext);
  out.set(tag, ciphertext.length);
  return out;
}
