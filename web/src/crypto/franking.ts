import { equalBytes } from "@noble/ciphers/utils.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";

// Message franking (API.md, Messages): the sender commits to the plaintext with
// HMAC-SHA256 under a fresh random key that travels inside the ciphertext. The server binds
// the commitment to the message; a recipient who reports the message reveals plaintext and
// key, and anyone can recompute the commitment.

export const FRANKING_KEY_BYTES = 32;

/** A fresh random franking key, one per message. */
export function newFrankingKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(FRANKING_KEY_BYTES));
}

/** The 32-byte commitment: HMAC-SHA256(frankingKey, plaintext). */
export function frankingCommitment(frankingKey: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return hmac(sha256, frankingKey, plaintext);
}

/** True when `commitment` is the commitment of `plaintext` under `frankingKey` (constant time). */
export function verifyFranking(
  plaintext: Uint8Array,
  frankingKey: Uint8Array,
  commitment: Uint8Array,
): boolean {
  if (frankingKey.length !== FRANKING_KEY_BYTES || commitment.length !== 32) return false;
  return equalBytes(frankingCommitment(frankingKey, plaintext), commitment);
}
