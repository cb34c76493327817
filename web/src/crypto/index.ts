// The web client's end-to-end encryption and protocol layer (docs/web-crypto.md).
//
// Usage, from the app:
//   const engine = await Engine.open(keyServer, { userId, deviceId });
//   ws "to_device" event        -> await engine.handleToDevice(event)
//   ws "device.added/removed"   -> await engine.onDeviceChange(event.user_id)
//   ws "member.joined/left"     -> await engine.onMembershipChange(event.room_id)
//   send:  const { ciphertext, commitment } = await engine.sealRoomMessage(roomId, members, bytes)
//   read:  const { plaintext, frankingKey } = await engine.openRoomMessage(roomId, msg.sender_id, undefined, msg.ciphertext)
//          still "no_sender_key" after the backlog ("ready"): engine.requestSenderKey(roomId, msg.sender_id, msg.ciphertext)
//   left a room: engine.forgetRoom(roomId); verify a device: engine.safetyNumber(userId, deviceId)
//   app payloads to devices (call keys, ...): engine.sendToDevices(targets, kind, bytes) -> handleToDevice gives {kind: "payload"}
//   report: franking = { plaintext, franking_key } (base64), checked by verifyFranking
//   files: fileKey = newFileKey(); wrapped_keys = await engine.wrapFileKey(roomId, fileKey, members);
//          put the file key in the room message naming the file; each chunk i of n:
//          sealChunk(fileKey, fileId, i, i === n - 1, bytes) / openChunk(...same...)

export { toBase64, fromBase64 } from "./base64";
export { CryptoError, type CryptoErrorCode } from "./errors";
export type {
  KeyServer,
  PutKeysBody,
  SignedPrekeyJson,
  OneTimePrekeyJson,
  DeviceKeyInfo,
  PrekeyBundle,
  ToDeviceMessage,
  ToDeviceBatch,
  ToDeviceEvent,
} from "./keyserver";
export {
  type KeyStore,
  keyStoreName,
  openIndexedDbKeyStore,
  deleteIndexedDbKeyStore,
} from "./store";
export {
  Engine,
  SENDER_KEY_KIND,
  SENDER_KEY_REQUEST_KIND,
  type Me,
  type RoomMember,
  type SealedRoomMessage,
  type OpenedRoomMessage,
  type ToDeviceOutcome,
  type EngineOptions,
} from "./engine";
export { verifyFranking, frankingCommitment, FRANKING_KEY_BYTES } from "./franking";
export {
  newFileKey,
  sealChunk,
  openChunk,
  type ChunkTransform,
  sealedChunkSize,
  CHUNK_OVERHEAD,
  CHUNK_HEADER_BYTES,
  FILE_KEY_BYTES,
} from "./chunks";
