import { ed25519 } from "@noble/curves/ed25519.js";
import { concatBytes } from "@noble/ciphers/utils.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { fromBase64, toBase64 } from "./base64";
import { buffer, lengthPrefixed, utf8 } from "./bytes";
import { CryptoError } from "./errors";

// Sender keys (docs/web-crypto.md, "Room messages"): each device has, per room, a hash
// chain of message keys and an Ed25519 signing key, which it hands to the other member
// devices over pairwise sessions. As in Signal's sender keys:
//   message key seed = HMAC-SHA256(chain key, 0x01), next chain key = HMAC-SHA256(chain key, 0x02)
// and from the seed HKDF-SHA256 derives the AES-256-GCM key and nonce of that one message.
//
// A room message:
//   version (1) = 1 | key id (u32 BE) | iteration (u32 BE) | device id length (u8) | device id (UTF-8)
//   | AES-256-GCM ciphertext with tag | Ed25519 signature (64)
// additional data and signed context: "ciphertalk/room-message/v1" | len-prefixed room id
// | len-prefixed sender user id | the header above; the signature covers context and ciphertext
// and is checked before anything is decrypted.

export const ROOM_MESSAGE_VERSION = 1;
const SIGNATURE_BYTES = 64;
const CONTEXT = "ciphertalk/room-message/v1";
const MESSAGE_KEY_INFO = utf8("ciphertalk/sender-key/v1/message");

/** One sender key chain, at the next iteration it will produce. */
export interface ChainState {
  keyId: number;
  /** Ed25519 public key, base64. */
  signingPublic: string;
  /** Only in this device's own chains. */
  signingSecret?: string;
  nextIteration: number;
  /** Chain key at `nextIteration`, base64. */
  chainKey: string;
}

/** What a sender hands each member device (over a pairwise session). */
export interface SenderKeyDistribution {
  t: "sender_key";
  room_id: string;
  key_id: number;
  iteration: number;
  chain_key: string;
  signing_key: string;
}

export interface ParsedRoomMessage {
  keyId: number;
  iteration: number;
  deviceId: string;
  header: Uint8Array;
  body: Uint8Array;
  signature: Uint8Array;
}

/** A fresh chain: random key id, chain key and signing key. */
export function newChain(): ChainState {
  const { secretKey, publicKey } = ed25519.keygen();
  const keyId = crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
  return {
    keyId,
    signingPublic: toBase64(publicKey),
    signingSecret: toBase64(secretKey),
    nextIteration: 0,
    chainKey: toBase64(crypto.getRandomValues(new Uint8Array(32))),
  };
}

export function distributionOf(roomId: string, chain: ChainState): SenderKeyDistribution {
  return {
    t: "sender_key",
    room_id: roomId,
    key_id: chain.keyId,
    iteration: chain.nextIteration,
    chain_key: chain.chainKey,
    signing_key: chain.signingPublic,
  };
}

export function chainFromDistribution(d: SenderKeyDistribution): ChainState {
  const valid =
    Number.isInteger(d.key_id) &&
    d.key_id >= 0 &&
    d.key_id <= 0xffffffff &&
    Number.isInteger(d.iteration) &&
    d.iteration >= 0 &&
    d.iteration <= 0xffffffff &&
    fromBase64(d.chain_key).length === 32 &&
    fromBase64(d.signing_key).length === 32;
  if (!valid) throw new CryptoError("malformed", "bad sender key distribution");
  return {
    keyId: d.key_id,
    signingPublic: d.signing_key,
    nextIteration: d.iteration,
    chainKey: d.chain_key,
  };
}

/**
 * Moves a chain to just past `iteration`, returning the message keys of every iteration
 * passed (so messages that arrive out of order stay readable) and the new state.
 */
export function advance(
  chain: ChainState,
  iteration: number,
): { messageKeys: Map<number, Uint8Array>; next: ChainState } {
  const messageKeys = new Map<number, Uint8Array>();
  let chainKey = fromBase64(chain.chainKey);
  for (let i = chain.nextIteration; i <= iteration; i++) {
    messageKeys.set(i, hmac(sha256, chainKey, Uint8Array.of(1)));
    chainKey = hmac(sha256, chainKey, Uint8Array.of(2));
  }
  return { messageKeys, next: { ...chain, nextIteration: iteration + 1, chainKey: toBase64(chainKey) } };
}

function context(roomId: string, senderUserId: string, header: Uint8Array): Uint8Array {
  return concatBytes(utf8(CONTEXT), lengthPrefixed(utf8(roomId)), lengthPrefixed(utf8(senderUserId)), header);
}

async function messageCipher(messageKey: Uint8Array): Promise<{ key: CryptoKey; iv: Uint8Array }> {
  const okm = hkdf(sha256, messageKey, undefined, MESSAGE_KEY_INFO, 44);
  const key = await crypto.subtle.importKey("raw", buffer(okm.slice(0, 32)), "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
  return { key, iv: okm.slice(32) };
}

function headerOf(keyId: number, iteration: number, deviceId: string): Uint8Array {
  const device = utf8(deviceId);
  if (device.length > 255) throw new CryptoError("malformed", "device id too long");
  const out = new Uint8Array(10 + device.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, ROOM_MESSAGE_VERSION);
  view.setUint32(1, keyId);
  view.setUint32(5, iteration);
  view.setUint8(9, device.length);
  out.set(device, 10);
  return out;
}

/** Encrypts and signs one message with an own chain's message key for `iteration`. */
export async function encryptRoomMessage(
  chain: ChainState,
  iteration: number,
  messageKey: Uint8Array,
  roomId: string,
  senderUserId: string,
  senderDeviceId: string,
  payload: Uint8Array,
): Promise<Uint8Array> {
  if (!chain.signingSecret) throw new Error("not an own chain");
  const header = headerOf(chain.keyId, iteration, senderDeviceId);
  const aad = context(roomId, senderUserId, header);
  const { key, iv } = await messageCipher(messageKey);
  const body = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: buffer(iv), additionalData: buffer(aad) },
      key,
      buffer(payload),
    ),
  );
  const signature = ed25519.sign(concatBytes(aad, body), fromBase64(chain.signingSecret));
  return concatBytes(header, body, signature);
}

export function parseRoomMessage(bytes: Uint8Array): ParsedRoomMessage {
  if (bytes.length < 10 + 16 + SIGNATURE_BYTES) throw new CryptoError("malformed", "room message too short");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint8(0) !== ROOM_MESSAGE_VERSION) throw new CryptoError("malformed", "unknown room message version");
  const deviceLength = view.getUint8(9);
  const headerLength = 10 + deviceLength;
  if (bytes.length < headerLength + 16 + SIGNATURE_BYTES) throw new CryptoError("malformed", "room message too short");
  return {
    keyId: view.getUint32(1),
    iteration: view.getUint32(5),
    deviceId: new TextDecoder().decode(bytes.subarray(10, headerLength)),
    header: bytes.subarray(0, headerLength),
    body: bytes.subarray(headerLength, bytes.length - SIGNATURE_BYTES),
    signature: bytes.subarray(bytes.length - SIGNATURE_BYTES),
  };
}

/** True when the message was signed by the chain's signing key for this room and sender. */
export function verifyRoomMessage(
  message: ParsedRoomMessage,
  chain: ChainState,
  roomId: string,
  senderUserId: string,
): boolean {
  const signed = concatBytes(context(roomId, senderUserId, message.header), message.body);
  try {
    return ed25519.verify(message.signature, signed, fromBase64(chain.signingPublic));
  } catch {
    return false;
  }
}

export async function decryptRoomMessage(
  message: ParsedRoomMessage,
  messageKey: Uint8Array,
  roomId: string,
  senderUserId: string,
): Promise<Uint8Array> {
  const { key, iv } = await messageCipher(messageKey);
  try {
    const plain = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: buffer(iv),
        additionalData: buffer(context(roomId, senderUserId, message.header)),
      },
      key,
      buffer(message.body),
    );
    return new Uint8Array(plain);
  } catch {
    throw new CryptoError("tampered", "room message failed authentication");
  }
}
