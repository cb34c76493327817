import type { KeyServer, ToDeviceEvent } from "./keyserver";
import type { KeyStore } from "./store";

/** This device: the logged-in user and the device id the server gave this browser profile. */
export interface Me {
  userId: string;
  deviceId: string;
}

/**
 * A room member as the sender sees it. Without `deviceIds` the engine asks the key server
 * for the user's devices (cached until `onDeviceChange(userId)`).
 */
export interface RoomMember {
  userId: string;
  deviceIds?: string[];
}

/** What `POST /v1/rooms/{id}/messages` takes: `ciphertext` and `commitment` (base64). */
export interface SealedRoomMessage {
  ciphertext: string;
  commitment: string;
}

/** A decrypted room message. Keep `frankingKey` with the message: a report needs it. */
export interface OpenedRoomMessage {
  plaintext: Uint8Array;
  frankingKey: Uint8Array;
  /** The commitment recomputed from plaintext and key; compare with the message's `commitment`. */
  commitment: Uint8Array;
  /** The sending device, as authenticated by its sender key. */
  senderDeviceId: string;
}

/** What a `to_device` event turned out to be. */
export type ToDeviceOutcome =
  /** A sender key for a room: messages of that sender in that room can now be opened. */
  | { kind: "sender_key"; roomId: string; fromUser: string; fromDevice: string }
  /** An app payload sent with `sendToDevices` (call keys, verification, ...). */
  | { kind: "payload"; appKind: string; payload: Uint8Array; fromUser: string; fromDevice: string }
  /** Nothing for the app (a duplicate, or a kind this engine does not know). */
  | { kind: "ignored"; reason: string };

export interface EngineOptions {
  /** One-time prekeys generated per upload (default 50). */
  oneTimePrekeyBatch?: number;
  /** Top up when the server holds fewer than this many (default 20). */
  oneTimePrekeyThreshold?: number;
}

/** The to-device `kind` of a sender-key distribution. */
export const SENDER_KEY_KIND = "ciphertalk.sender_key.v1";

const notYet = (): never => {
  throw new Error("not yet");
};

/**
 * This device's end-to-end encryption: its Signal identity and prekeys, pairwise sessions
 * with other devices, and the sender keys of the rooms it sends to and reads.
 */
export class Engine {
  private constructor() {}

  /**
   * Loads this device's keys from `store` (default: the sealed IndexedDB store
   * `keyStoreName(me.userId, me.deviceId)`), or creates and publishes them
   * (`PUT /v1/keys`) on first use; then tops up one-time prekeys below the threshold.
   */
  static async open(
    _server: KeyServer,
    _me: Me,
    _store?: KeyStore,
    _options?: EngineOptions,
  ): Promise<Engine> {
    return notYet();
  }

  /** This device's public identity key (base64), as `GET /v1/users/{id}/devices` lists it. */
  get identityKey(): string {
    return notYet();
  }

  /**
   * Encrypts a room message for every device of every member (including this user's other
   * devices). Distributes (or first rotates) this device's sender key for the room over
   * to-device messages when the set of target devices changed since the last message.
   */
  async sealRoomMessage(
    _roomId: string,
    _members: RoomMember[],
    _plaintext: Uint8Array,
  ): Promise<SealedRoomMessage> {
    return notYet();
  }

  /**
   * Decrypts a room message. `senderDeviceId` is optional (the message names only its
   * sender user); when given it must match. Throws CryptoError `no_sender_key` when the
   * sender's key has not arrived yet: retry after the next `to_device` event.
   */
  async openRoomMessage(
    _roomId: string,
    _senderUserId: string,
    _senderDeviceId: string | undefined,
    _ciphertext: string,
  ): Promise<OpenedRoomMessage> {
    return notYet();
  }

  /** Processes a `to_device` event (pairwise session set-up, sender keys, app payloads). */
  async handleToDevice(_event: ToDeviceEvent): Promise<ToDeviceOutcome> {
    return notYet();
  }

  /** Call on `device.added` / `device.removed` for `userId`: forgets cached devices and re-keys rooms that reach them. */
  async onDeviceChange(_userId: string): Promise<void> {
    return notYet();
  }

  /** Call on `member.joined` / `member.left` in `roomId`: the next message there uses a new sender key. */
  async onMembershipChange(_roomId: string): Promise<void> {
    return notYet();
  }

  /** Sends an app payload end-to-end encrypted to every device of the targets, as to-device messages of `kind`. */
  async sendToDevices(_targets: RoomMember[], _kind: string, _payload: Uint8Array): Promise<void> {
    return notYet();
  }

  /**
   * Seals a file key for `POST /v1/files`'s `wrapped_keys`: one entry per member user,
   * readable by each of that user's devices. The file key should also travel inside the
   * room message that names the file.
   */
  async wrapFileKey(
    _roomId: string,
    _fileKey: Uint8Array,
    _members: RoomMember[],
  ): Promise<Record<string, string>> {
    return notYet();
  }

  /** Opens this user's `wrapped_key` from `GET /v1/files/{id}`. */
  async unwrapFileKey(_roomId: string, _wrappedKey: string): Promise<Uint8Array> {
    return notYet();
  }

  /** Tops up one-time prekeys when the server holds fewer than the threshold; returns how many were added. */
  async replenishPrekeys(): Promise<number> {
    return notYet();
  }

  /** Closes the key store. */
  close(): void {
    notYet();
  }
}
