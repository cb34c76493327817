import { concatBytes } from "@noble/ciphers/utils.js";
import { FingerprintGenerator } from "@privacyresearch/libsignal-protocol-typescript";
import { fromBase64, toBase64 } from "./base64";
import { utf8 } from "./bytes";
import { CryptoError } from "./errors";
import { unwrapFileKeyForDevice, wrapFileKeyForUser, type DeviceRecipient } from "./filekeys";
import { FRANKING_KEY_BYTES, frankingCommitment, newFrankingKey } from "./franking";
import {
  loadOrCreateIdentity,
  replenishPrekeys,
  rotateSignedPrekey,
  type PrekeyPolicy,
} from "./identity";
import type { DeviceKeyInfo, KeyServer, ToDeviceEvent, ToDeviceMessage } from "./keyserver";
import { withLock } from "./lock";
import { Pairwise } from "./pairwise";
import { b64, getJson, putJson } from "./records";
import {
  advance,
  chainFromDistribution,
  decryptRoomMessage,
  distributionOf,
  encryptRoomMessage,
  newChain,
  parseRoomMessage,
  verifyRoomMessage,
  type ChainState,
  type SenderKeyDistribution,
} from "./senderkeys";
import { addressName, SignalStore } from "./signalstore";
import { keyStoreName, openIndexedDbKeyStore, type KeyStore } from "./store";

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
  /** Another device asked for one of this device's sender keys; answered if it was a recipient. */
  | { kind: "key_request"; roomId: string; fromUser: string; fromDevice: string; answered: boolean }
  /** Nothing for the app (a duplicate, or a kind this engine does not know). */
  | { kind: "ignored"; reason: string };

export interface EngineOptions {
  /** One-time prekeys generated per upload (default 50). */
  oneTimePrekeyBatch?: number;
  /** Top up when the server holds fewer than this many (default 20). */
  oneTimePrekeyThreshold?: number;
  /** The signed prekey is replaced once it is this old, in milliseconds (default 30 days). */
  signedPrekeyMaxAgeMs?: number;
  /** A room's sender key is replaced after this many messages (default 1000)... */
  senderKeyMaxMessages?: number;
  /** ...or once it is this old, in milliseconds (default 7 days). */
  senderKeyMaxAgeMs?: number;
}

interface RotationPolicy {
  maxMessages: number;
  maxAgeMs: number;
}

/** The to-device `kind` of a sender-key distribution. */
export const SENDER_KEY_KIND = "ciphertalk.sender_key.v1";
/** The to-device `kind` of a request for a missing sender key. */
export const SENDER_KEY_REQUEST_KIND = "ciphertalk.sender_key_request.v1";

/** A request for a sender key this device is missing, inside the pairwise envelope. */
interface KeyRequest {
  t: "sender_key_request";
  room_id: string;
  key_id: number;
}

/** An own sender key as first made, and whom it was for: what a key request may get. */
interface OwnKeyOrigin {
  initial: ChainState;
  recipients: string[];
}

/** An app payload sent with `sendToDevices`, inside the pairwise envelope. */
interface AppPayload {
  t: "payload";
  kind: string;
  payload: string;
}

/** This device's current sender key in a room and whom it was given to. */
interface OwnPointer {
  keyId: number;
  /** "<user id>/<device id>" of every target device, sorted. */
  recipients: string[];
  /** Targets that had no keys yet: the key is offered again at the next message. */
  unreached: string[];
  /** Set by membership or device changes: the next message starts a new key. */
  stale: boolean;
  /** When the key was made (ms since the epoch), for the age limit. */
  createdAt: number;
}

interface Target {
  userId: string;
  deviceId: string;
}

/** How far ahead of the last one a sender-key message may be (bounds the work it causes). */
const MAX_SKIP = 2000;
/** At most one request per missing sender key per minute. */
const REQUEST_INTERVAL_MS = 60_000;
/** Signal's hash iterations for safety numbers. */
const SAFETY_NUMBER_ITERATIONS = 5200;
/** Messages and decoded ciphertext bytes per `POST /v1/to-device` batch. */
const BATCH = 100;
const BATCH_BYTES = 256 * 1024;
/** At most one prekey top-up check per minute after sessions started from our prekeys. */
const REPLENISH_INTERVAL_MS = 60_000;

const targetKey = (t: Target) => `${t.userId}/${t.deviceId}`;
const ownName = (roomId: string) => `sk/own/${roomId}`;
const originName = (roomId: string, keyId: number) => `sk/origin/${roomId}/${keyId}`;
const chainName = (roomId: string, userId: string, deviceId: string, keyId: number) =>
  `sk/chain/${roomId}/${userId}/${deviceId}/${keyId}`;
const messageKeyName = (
  roomId: string,
  userId: string,
  deviceId: string,
  keyId: number,
  iteration: number,
) => `sk/mk/${roomId}/${userId}/${deviceId}/${keyId}/${iteration}`;

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * This device's end-to-end encryption: its Signal identity and prekeys, pairwise sessions
 * with other devices, and the sender keys of the rooms it sends to and reads.
 */
export class Engine {
  private readonly deviceCache = new Map<string, DeviceKeyInfo[]>();
  private readonly keyRequests = new Map<string, number>();
  private lastReplenish = 0;

  private constructor(
    private readonly server: KeyServer,
    private readonly me: Me,
    private readonly store: KeyStore,
    private readonly signal: SignalStore,
    private readonly pairwise: Pairwise,
    private readonly identityPublic: ArrayBuffer,
    private readonly policy: PrekeyPolicy,
    private readonly rotation: RotationPolicy,
  ) {}

  /**
   * Loads this device's keys from `store` (default: the sealed IndexedDB store
   * `keyStoreName(me.userId, me.deviceId)`), or creates and publishes them
   * (`PUT /v1/keys`) on first use; then tops up one-time prekeys below the threshold.
   */
  static async open(
    server: KeyServer,
    me: Me,
    store?: KeyStore,
    options?: EngineOptions,
  ): Promise<Engine> {
    const keyStore = store ?? (await openIndexedDbKeyStore(keyStoreName(me.userId, me.deviceId)));
    const signal = new SignalStore(keyStore);
    const policy: PrekeyPolicy = {
      batch: options?.oneTimePrekeyBatch ?? 50,
      threshold: options?.oneTimePrekeyThreshold ?? 20,
      signedPrekeyMaxAgeMs: options?.signedPrekeyMaxAgeMs ?? 30 * 24 * 3600 * 1000,
    };
    // Two tabs opening the same new device at once must not make two identities.
    const identityPublic = await withLock(`identity/${me.userId}/${me.deviceId}`, async () => {
      const key = await loadOrCreateIdentity(signal, server, policy);
      await rotateSignedPrekey(signal, server, policy);
      return key;
    });
    const engine = new Engine(
      server,
      me,
      keyStore,
      signal,
      new Pairwise(signal, server, me.userId),
      identityPublic,
      policy,
      {
        maxMessages: options?.senderKeyMaxMessages ?? 1000,
        maxAgeMs: options?.senderKeyMaxAgeMs ?? 7 * 24 * 3600 * 1000,
      },
    );
    await engine.replenishPrekeys();
    return engine;
  }

  /** This device's public identity key (base64), as `GET /v1/users/{id}/devices` lists it. */
  get identityKey(): string {
    return b64(this.identityPublic);
  }

  /**
   * Encrypts a room message for every device of every member (including this user's other
   * devices). Distributes (or first rotates) this device's sender key for the room over
   * to-device messages when the set of target devices changed since the last message.
   */
  async sealRoomMessage(
    roomId: string,
    members: RoomMember[],
    plaintext: Uint8Array,
  ): Promise<SealedRoomMessage> {
    const targets = await this.targetsOf(members);
    const { userId, deviceId } = this.me;
    return withLock(ownName(roomId), async () => {
      const chain = await this.currentOwnChain(roomId, targets);
      const iteration = chain.nextIteration;
      const { messageKeys, next } = advance(chain, iteration);
      const messageKey = messageKeys.get(iteration)!;
      // The chain moves on before the message leaves: an iteration is never used twice.
      await putJson(this.store, chainName(roomId, userId, deviceId, chain.keyId), next);
      // Kept so this device can read its own message again (history).
      await putJson(this.store, messageKeyName(roomId, userId, deviceId, chain.keyId, iteration), b64(messageKey));
      const frankingKey = newFrankingKey();
      const commitment = frankingCommitment(frankingKey, plaintext);
      const sealed = await encryptRoomMessage(
        chain,
        iteration,
        messageKey,
        roomId,
        userId,
        deviceId,
        concatBytes(frankingKey, plaintext),
      );
      return { ciphertext: toBase64(sealed), commitment: toBase64(commitment) };
    });
  }

  /** The own chain to send with, after starting a new one (or offering it again) as needed. */
  private async currentOwnChain(roomId: string, targets: Target[]): Promise<ChainState> {
    const { userId, deviceId } = this.me;
    const wanted = targets.map(targetKey).sort();
    const pointer = await getJson<OwnPointer>(this.store, ownName(roomId));
    const chain =
      pointer && (await getJson<ChainState>(this.store, chainName(roomId, userId, deviceId, pointer.keyId)));
    const worn =
      !chain ||
      chain.nextIteration >= this.rotation.maxMessages ||
      Date.now() - (pointer?.createdAt ?? 0) >= this.rotation.maxAgeMs;
    if (pointer && chain && !worn && !pointer.stale && sameList(pointer.recipients, wanted)) {
      if (pointer.unreached.length > 0) {
        const retry = targets.filter((t) => pointer.unreached.includes(targetKey(t)));
        const unreached = await this.distribute(roomId, chain, retry);
        await putJson(this.store, ownName(roomId), { ...pointer, unreached });
      }
      return chain;
    }
    const fresh = newChain();
    await putJson(this.store, chainName(roomId, userId, deviceId, fresh.keyId), fresh);
    const origin: OwnKeyOrigin = { initial: fresh, recipients: wanted };
    await putJson(this.store, originName(roomId, fresh.keyId), origin);
    const unreached = await this.distribute(roomId, fresh, targets);
    const next: OwnPointer = {
      keyId: fresh.keyId,
      recipients: wanted,
      unreached,
      stale: false,
      createdAt: Date.now(),
    };
    await putJson(this.store, ownName(roomId), next);
    return fresh;
  }

  /** Hands a chain (at its current iteration) to the targets; returns those without keys. */
  private async distribute(roomId: string, chain: ChainState, targets: Target[]): Promise<string[]> {
    const distribution: SenderKeyDistribution = distributionOf(roomId, chain);
    return this.sendPairwise(targets, SENDER_KEY_KIND, utf8(JSON.stringify(distribution)));
  }

  /** Encrypts `inner` for each target over its pairwise session and sends the batch. */
  private async sendPairwise(targets: Target[], kind: string, inner: Uint8Array): Promise<string[]> {
    const byUser = new Map<string, string[]>();
    for (const t of targets) byUser.set(t.userId, [...(byUser.get(t.userId) ?? []), t.deviceId]);
    const unreached: string[] = [];
    const messages: ToDeviceMessage[] = [];
    for (const [userId, deviceIds] of byUser) {
      let missing: string[];
      try {
        missing = await this.pairwise.ensureSessions(userId, deviceIds);
      } catch (error) {
        // A device whose identity changed gets nothing (it may be an impostor).
        if (error instanceof CryptoError && error.code === "untrusted_identity") {
          const reachable: string[] = [];
          for (const d of deviceIds) if (await this.pairwise.hasSession(userId, d)) reachable.push(d);
          missing = deviceIds.filter((d) => !reachable.includes(d));
        } else {
          throw error;
        }
      }
      for (const deviceId of deviceIds) {
        if (missing.includes(deviceId)) {
          unreached.push(targetKey({ userId, deviceId }));
          continue;
        }
        const ciphertext = await this.pairwise.encrypt(userId, deviceId, inner);
        messages.push({ user_id: userId, device_id: deviceId, kind, ciphertext });
      }
    }
    await this.sendInBatches(messages);
    return unreached.sort();
  }

  /** Sends to-device messages in batches below the server's default limits (500 messages, 512 KiB). */
  private async sendInBatches(messages: ToDeviceMessage[]): Promise<void> {
    let batch: ToDeviceMessage[] = [];
    let bytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await this.server.sendToDevice({ batch_id: crypto.randomUUID(), messages: batch });
      batch = [];
      bytes = 0;
    };
    for (const message of messages) {
      const size = (message.ciphertext.length * 3) / 4;
      if (batch.length >= BATCH || (batch.length > 0 && bytes + size > BATCH_BYTES)) await flush();
      batch.push(message);
      bytes += size;
    }
    await flush();
  }

  /** Every device of every member, this user's other devices always among them, without this one. */
  private async targetsOf(members: RoomMember[]): Promise<Target[]> {
    const seen = new Map<string, Target>();
    const withMe = members.some((m) => m.userId === this.me.userId)
      ? members
      : [...members, { userId: this.me.userId }];
    for (const member of withMe) {
      const deviceIds =
        member.deviceIds ?? (await this.devicesOf(member.userId)).map((d) => d.device_id);
      for (const deviceId of deviceIds) {
        const target = { userId: member.userId, deviceId };
        if (member.userId === this.me.userId && deviceId === this.me.deviceId) continue;
        seen.set(targetKey(target), target);
      }
    }
    return [...seen.values()];
  }

  private async devicesOf(userId: string): Promise<DeviceKeyInfo[]> {
    const cached = this.deviceCache.get(userId);
    if (cached) return cached;
    const devices = await this.server.userDevices(userId);
    this.deviceCache.set(userId, devices);
    return devices;
  }

  /**
   * Decrypts a room message. `senderDeviceId` is optional (the message names only its
   * sender user); when given it must match. Throws CryptoError `no_sender_key` when the
   * sender's key has not arrived yet: retry after the next `to_device` event.
   */
  async openRoomMessage(
    roomId: string,
    senderUserId: string,
    senderDeviceId: string | undefined,
    ciphertext: string,
  ): Promise<OpenedRoomMessage> {
    const message = parseRoomMessage(fromBase64(ciphertext));
    if (senderDeviceId !== undefined && senderDeviceId !== message.deviceId) {
      throw new CryptoError("tampered", "message names another sending device");
    }
    const own = senderUserId === this.me.userId && message.deviceId === this.me.deviceId;
    const lock = own ? ownName(roomId) : `peer/${roomId}/${senderUserId}/${message.deviceId}`;
    const name = chainName(roomId, senderUserId, message.deviceId, message.keyId);
    const payload = await withLock(lock, async () => {
      const chain = await getJson<ChainState>(this.store, name);
      if (!chain) throw new CryptoError("no_sender_key", "no sender key for this message yet");
      // Signature first: nothing below runs for a message the sender did not sign.
      if (!verifyRoomMessage(message, chain, roomId, senderUserId)) {
        throw new CryptoError("tampered", "room message signature is invalid");
      }
      const keyName = (i: number) => messageKeyName(roomId, senderUserId, message.deviceId, message.keyId, i);
      if (message.iteration < chain.nextIteration) {
        const stored = await getJson<string>(this.store, keyName(message.iteration));
        if (!stored) throw new CryptoError("message_key_unavailable", "message is older than this device's key");
        return decryptRoomMessage(message, fromBase64(stored), roomId, senderUserId);
      }
      if (message.iteration - chain.nextIteration > MAX_SKIP) {
        throw new CryptoError("message_key_unavailable", "message is too far ahead");
      }
      const { messageKeys, next } = advance(chain, message.iteration);
      const plain = await decryptRoomMessage(message, messageKeys.get(message.iteration)!, roomId, senderUserId);
      for (const [i, key] of messageKeys) await putJson(this.store, keyName(i), b64(key));
      await putJson(this.store, name, next);
      return plain;
    });
    if (payload.length < FRANKING_KEY_BYTES) throw new CryptoError("malformed", "room message payload too short");
    const frankingKey = payload.slice(0, FRANKING_KEY_BYTES);
    const plaintext = payload.slice(FRANKING_KEY_BYTES);
    return {
      plaintext,
      frankingKey,
      commitment: frankingCommitment(frankingKey, plaintext),
      senderDeviceId: message.deviceId,
    };
  }

  /** Processes a `to_device` event (pairwise session set-up, sender keys, app payloads). */
  async handleToDevice(event: ToDeviceEvent): Promise<ToDeviceOutcome> {
    if (event.type !== "to_device") return { kind: "ignored", reason: "not a to_device event" };
    const fromUser = event.from_user;
    const fromDevice = event.from_device;
    let opened: { plaintext: Uint8Array; startedSession: boolean };
    try {
      opened = await this.pairwise.decrypt(fromUser, fromDevice, event.ciphertext);
    } catch (error) {
      // A redelivered (already decrypted) or damaged message: nothing to do.
      if (error instanceof CryptoError) return { kind: "ignored", reason: error.code };
      throw error;
    }
    if (opened.startedSession) void this.replenishSoon();
    let inner: SenderKeyDistribution | KeyRequest | AppPayload;
    try {
      inner = JSON.parse(new TextDecoder().decode(opened.plaintext));
    } catch {
      return { kind: "ignored", reason: "malformed" };
    }
    if (inner.t === "sender_key") {
      let chain: ChainState;
      try {
        chain = chainFromDistribution(inner);
      } catch {
        return { kind: "ignored", reason: "malformed" };
      }
      const roomId = inner.room_id;
      const stored = await withLock(`peer/${roomId}/${fromUser}/${fromDevice}`, () =>
        this.storePeerChain(roomId, fromUser, fromDevice, chain),
      );
      return stored
        ? { kind: "sender_key", roomId, fromUser, fromDevice }
        : { kind: "ignored", reason: "conflicting sender key" };
    }
    if (inner.t === "sender_key_request") {
      const answered = await this.answerKeyRequest(inner, { userId: fromUser, deviceId: fromDevice });
      return { kind: "key_request", roomId: inner.room_id, fromUser, fromDevice, answered };
    }
    if (inner.t === "payload" && typeof inner.kind === "string" && typeof inner.payload === "string") {
      return { kind: "payload", appKind: inner.kind, payload: fromBase64(inner.payload), fromUser, fromDevice };
    }
    return { kind: "ignored", reason: "unknown payload" };
  }

  /**
   * Keeps a peer's chain. A chain already held stays (it is further on); an offer from an
   * earlier iteration adds the message keys between the two. False if the offer's signing
   * key differs from the held chain's (not the same key).
   */
  private async storePeerChain(
    roomId: string,
    userId: string,
    deviceId: string,
    offered: ChainState,
  ): Promise<boolean> {
    const name = chainName(roomId, userId, deviceId, offered.keyId);
    const held = await getJson<ChainState>(this.store, name);
    if (!held) {
      await putJson(this.store, name, offered);
      return true;
    }
    if (held.signingPublic !== offered.signingPublic) return false;
    if (offered.nextIteration < held.nextIteration) {
      const { messageKeys } = advance(offered, held.nextIteration - 1);
      for (const [i, key] of messageKeys) {
        const keyName = messageKeyName(roomId, userId, deviceId, offered.keyId, i);
        if (!(await this.store.get(keyName))) await putJson(this.store, keyName, b64(key));
      }
    }
    return true;
  }

  /**
   * Asks the sender of a room message this device cannot open (`no_sender_key` or
   * `message_key_unavailable` after the inbox was drained) for that sender key from its
   * start. The sender answers only if this device was one of the key's recipients, so a
   * device added later still cannot read what came before it. At most once a minute per key.
   */
  async requestSenderKey(roomId: string, senderUserId: string, ciphertext: string): Promise<void> {
    const message = parseRoomMessage(fromBase64(ciphertext));
    const asked = `${roomId}/${senderUserId}/${message.deviceId}/${message.keyId}`;
    const last = this.keyRequests.get(asked) ?? 0;
    if (Date.now() - last < REQUEST_INTERVAL_MS) return;
    this.keyRequests.set(asked, Date.now());
    const request: KeyRequest = { t: "sender_key_request", room_id: roomId, key_id: message.keyId };
    await this.sendPairwise(
      [{ userId: senderUserId, deviceId: message.deviceId }],
      SENDER_KEY_REQUEST_KIND,
      utf8(JSON.stringify(request)),
    );
  }

  private async answerKeyRequest(request: KeyRequest, from: Target): Promise<boolean> {
    if (typeof request.room_id !== "string" || !Number.isInteger(request.key_id)) return false;
    const origin = await getJson<OwnKeyOrigin>(this.store, originName(request.room_id, request.key_id));
    if (!origin || !origin.recipients.includes(targetKey(from))) return false;
    const unreached = await this.distribute(request.room_id, origin.initial, [from]);
    return unreached.length === 0;
  }

  private async replenishSoon(): Promise<void> {
    const now = Date.now();
    if (now - this.lastReplenish < REPLENISH_INTERVAL_MS) return;
    this.lastReplenish = now;
    try {
      await this.replenishPrekeys();
    } catch {
      this.lastReplenish = 0; // try again at the next session
    }
  }

  /** Call on `device.added` / `device.removed` for `userId`: forgets cached devices and re-keys rooms that reach them. */
  async onDeviceChange(userId: string): Promise<void> {
    this.deviceCache.delete(userId);
    for (const name of await this.store.names("sk/own/")) {
      const roomId = name.slice("sk/own/".length);
      await withLock(ownName(roomId), async () => {
        const pointer = await getJson<OwnPointer>(this.store, name);
        if (pointer && pointer.recipients.some((r) => r.startsWith(`${userId}/`))) {
          await putJson(this.store, name, { ...pointer, stale: true });
        }
      });
    }
  }

  /** Call on `member.joined` / `member.left` in `roomId`: the next message there uses a new sender key. */
  async onMembershipChange(roomId: string): Promise<void> {
    await withLock(ownName(roomId), async () => {
      const pointer = await getJson<OwnPointer>(this.store, ownName(roomId));
      if (pointer) await putJson(this.store, ownName(roomId), { ...pointer, stale: true });
    });
  }

  /**
   * Deletes every sender key and message key of a room on this device (after leaving it):
   * its messages can no longer be opened here.
   */
  async forgetRoom(roomId: string): Promise<void> {
    await withLock(ownName(roomId), async () => {
      for (const prefix of [`sk/chain/${roomId}/`, `sk/mk/${roomId}/`, `sk/origin/${roomId}/`, ownName(roomId)]) {
        for (const name of await this.store.names(prefix)) await this.store.delete(name);
      }
    });
  }

  /**
   * Sends an app payload end-to-end encrypted to every device of the targets (without this
   * one), as to-device messages of `kind`. Returns the devices that had no keys ("user/device").
   */
  async sendToDevices(targets: RoomMember[], kind: string, payload: Uint8Array): Promise<string[]> {
    const inner: AppPayload = { t: "payload", kind, payload: toBase64(payload) };
    return this.sendPairwise(await this.targetsOf(targets), kind, utf8(JSON.stringify(inner)));
  }

  /**
   * Seals a file key for `POST /v1/files`'s `wrapped_keys`: one entry per member user,
   * readable by each of that user's devices (this one included). The file key should also
   * travel inside the room message that names the file.
   */
  async wrapFileKey(
    roomId: string,
    fileKey: Uint8Array,
    members: RoomMember[],
  ): Promise<Record<string, string>> {
    const wrapped: Record<string, string> = {};
    for (const member of members) {
      const recipients: DeviceRecipient[] = [];
      for (const device of await this.devicesOf(member.userId)) {
        if (member.deviceIds && !member.deviceIds.includes(device.device_id)) continue;
        if (!device.identity_key) continue;
        const identityKey = fromBase64(device.identity_key);
        // A device whose listed key differs from the one its session was made with is skipped.
        const trusted = await this.signal.trustedIdentity(addressName(member.userId, device.device_id));
        if (trusted && toBase64(trusted) !== device.identity_key) continue;
        recipients.push({ deviceId: device.device_id, identityKey });
      }
      if (member.userId === this.me.userId && !recipients.some((r) => r.deviceId === this.me.deviceId)) {
        recipients.push({ deviceId: this.me.deviceId, identityKey: new Uint8Array(this.identityPublic) });
      }
      wrapped[member.userId] = wrapFileKeyForUser(fileKey, roomId, member.userId, recipients);
    }
    return wrapped;
  }

  /** Opens this user's `wrapped_key` from `GET /v1/files/{id}`. */
  async unwrapFileKey(roomId: string, wrappedKey: string): Promise<Uint8Array> {
    const identity = await this.signal.getIdentityKeyPair();
    if (!identity) throw new CryptoError("no_keys", "this device has no identity");
    return unwrapFileKeyForDevice(
      wrappedKey,
      roomId,
      this.me.userId,
      this.me.deviceId,
      new Uint8Array(identity.pubKey),
      new Uint8Array(identity.privKey),
    );
  }

  /**
   * The safety number of this device and another one (60 digits, Signal's format): both
   * devices show the same number when no one is in the middle, for users to compare.
   * Uses the identity trusted for that device, or the one the server lists.
   */
  async safetyNumber(otherUserId: string, otherDeviceId: string): Promise<string> {
    let remote = await this.signal.trustedIdentity(addressName(otherUserId, otherDeviceId));
    if (!remote) {
      const listed = (await this.devicesOf(otherUserId)).find((d) => d.device_id === otherDeviceId);
      if (!listed?.identity_key) throw new CryptoError("no_keys", "that device has no identity key");
      remote = fromBase64(listed.identity_key);
    }
    return new FingerprintGenerator(SAFETY_NUMBER_ITERATIONS).createFor(
      addressName(this.me.userId, this.me.deviceId),
      this.identityPublic,
      addressName(otherUserId, otherDeviceId),
      new Uint8Array(remote).buffer,
    );
  }

  /** Tops up one-time prekeys when the server holds fewer than the threshold; returns how many were added. */
  async replenishPrekeys(): Promise<number> {
    return replenishPrekeys(this.signal, this.server, this.policy);
  }

  /** Closes the key store. */
  close(): void {
    this.store.close();
  }
}
