import { x25519 } from "@noble/curves/ed25519.js";
import { gcm } from "@noble/ciphers/aes.js";
import { concatBytes } from "@noble/ciphers/utils.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { fromBase64, toBase64 } from "./base64";
import { lengthPrefixed, utf8 } from "./bytes";
import { FILE_KEY_BYTES } from "./chunks";
import { CryptoError } from "./errors";

// A file key sealed for one user of `wrapped_keys` (docs/web-crypto.md, "File keys"): one
// box per device of that user, each an X25519 sealed box to the device's Signal identity
// key (an X25519 key; libsignal prefixes it with the byte 0x05):
//   version (1) = 1 | box count (u8) | per box: device id length (u8) | device id (UTF-8)
//   | ephemeral public key (32) | AES-256-GCM(file key) with tag (48)
// key and nonce = HKDF-SHA256(X25519(ephemeral, identity), salt = ephemeral | identity,
//   info = "ciphertalk/file-key/v1" | len-prefixed room id | user id | device id), 44 bytes.

const VERSION = 1;
const INFO = "ciphertalk/file-key/v1";
const SEALED_BYTES = FILE_KEY_BYTES + 16;

export interface DeviceRecipient {
  deviceId: string;
  /** The device's identity key as published (33 bytes, 0x05 | X25519 public key). */
  identityKey: Uint8Array;
}

function montgomery(identityKey: Uint8Array): Uint8Array {
  if (identityKey.length === 33 && identityKey[0] === 0x05) return identityKey.subarray(1);
  if (identityKey.length === 32) return identityKey;
  throw new CryptoError("malformed", "not a Curve25519 identity key");
}

function boxKey(
  shared: Uint8Array,
  ephemeral: Uint8Array,
  recipient: Uint8Array,
  roomId: string,
  userId: string,
  deviceId: string,
): { key: Uint8Array; nonce: Uint8Array } {
  const info = concatBytes(
    utf8(INFO),
    lengthPrefixed(utf8(roomId)),
    lengthPrefixed(utf8(userId)),
    lengthPrefixed(utf8(deviceId)),
  );
  const okm = hkdf(sha256, shared, concatBytes(ephemeral, recipient), info, 44);
  return { key: okm.slice(0, 32), nonce: okm.slice(32) };
}

/** Seals `fileKey` for each of a user's devices; the base64 value for `wrapped_keys[userId]`. */
export function wrapFileKeyForUser(
  fileKey: Uint8Array,
  roomId: string,
  userId: string,
  devices: DeviceRecipient[],
): string {
  if (fileKey.length !== FILE_KEY_BYTES) throw new CryptoError("malformed", "file key must be 32 bytes");
  if (devices.length > 255) throw new CryptoError("malformed", "too many devices");
  const parts: Uint8Array[] = [Uint8Array.of(VERSION, devices.length)];
  for (const device of devices) {
    const id = utf8(device.deviceId);
    if (id.length > 255) throw new CryptoError("malformed", "device id too long");
    const recipient = montgomery(device.identityKey);
    const { secretKey, publicKey } = x25519.keygen();
    const shared = x25519.getSharedSecret(secretKey, recipient);
    const { key, nonce } = boxKey(shared, publicKey, recipient, roomId, userId, device.deviceId);
    parts.push(Uint8Array.of(id.length), id, publicKey, gcm(key, nonce).encrypt(fileKey));
  }
  return toBase64(concatBytes(...parts));
}

/** Opens this device's box in a user's wrapped file key. */
export function unwrapFileKeyForDevice(
  wrapped: string,
  roomId: string,
  userId: string,
  deviceId: string,
  identityPublic: Uint8Array,
  identitySecret: Uint8Array,
): Uint8Array {
  const bytes = fromBase64(wrapped);
  if (bytes[0] !== VERSION || bytes.length < 2) throw new CryptoError("malformed", "unknown wrapped key version");
  const count = bytes[1] ?? 0;
  let at = 2;
  for (let i = 0; i < count; i++) {
    const idLength = bytes[at] ?? 0;
    const end = at + 1 + idLength + 32 + SEALED_BYTES;
    if (end > bytes.length) throw new CryptoError("malformed", "wrapped key truncated");
    const id = new TextDecoder().decode(bytes.subarray(at + 1, at + 1 + idLength));
    if (id === deviceId) {
      const ephemeral = bytes.subarray(at + 1 + idLength, at + 1 + idLength + 32);
      const sealed = bytes.subarray(end - SEALED_BYTES, end);
      const recipient = montgomery(identityPublic);
      const shared = x25519.getSharedSecret(identitySecret, ephemeral);
      const { key, nonce } = boxKey(shared, ephemeral, recipient, roomId, userId, deviceId);
      try {
        return gcm(key, nonce).decrypt(sealed);
      } catch {
        throw new CryptoError("tampered", "wrapped file key failed authentication");
      }
    }
    at = end;
  }
  throw new CryptoError("no_keys", "the file key was not wrapped for this device");
}
