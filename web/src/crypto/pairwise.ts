import {
  SessionBuilder,
  SessionCipher,
  SignalProtocolAddress,
  type DeviceType,
} from "@privacyresearch/libsignal-protocol-typescript";
// Not re-exported by the package's index; needed to decrypt without libsignal's session-list bug.
import { SessionLock } from "@privacyresearch/libsignal-protocol-typescript/lib/session-lock";
import { SessionRecord } from "@privacyresearch/libsignal-protocol-typescript/lib/session-record";
import { fromBase64, toBase64 } from "./base64";
import { CryptoError } from "./errors";
import type { KeyServer, PrekeyBundle } from "./keyserver";
import { unb64Buffer } from "./records";
import { addressName, type SignalStore } from "./signalstore";

// Pairwise Signal sessions (X3DH from a prekey bundle, then the Double Ratchet) between
// this device and one other device, via libsignal-protocol-typescript.
//
// Wire form of a pairwise ciphertext: one byte, libsignal's message type (3 = prekey
// message that starts a session, 1 = ordinary message), then libsignal's serialized message.
//
// Ordinary messages are not decrypted with libsignal's decryptWhisperMessage: it tries each
// session of the device in turn on the same objects, and a failed try has already stepped
// that session's ratchet and deleted message keys, which is then stored. After both devices
// started a session at once (two first messages crossing), that broke the session for good.
// Here every try starts from the stored record, and only the session that decrypted is kept.

const PREKEY_MESSAGE = 3;
const MESSAGE = 1;

const address = (userId: string, deviceId: string) =>
  // Our device ids are UUIDs; libsignal's device number is unused (always 1).
  new SignalProtocolAddress(addressName(userId, deviceId), 1);

function toDeviceType(bundle: PrekeyBundle): DeviceType {
  return {
    identityKey: unb64Buffer(bundle.identity_key),
    signedPreKey: {
      keyId: bundle.signed_prekey.key_id,
      publicKey: unb64Buffer(bundle.signed_prekey.public_key),
      signature: unb64Buffer(bundle.signed_prekey.signature),
    },
    preKey: bundle.one_time_prekey
      ? {
          keyId: bundle.one_time_prekey.key_id,
          publicKey: unb64Buffer(bundle.one_time_prekey.public_key),
        }
      : undefined,
    // The API has no registration ids; libsignal counts a session as open only with one.
    registrationId: 0,
  };
}

function binaryStringToBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function signalError(error: unknown): CryptoError {
  if (error instanceof CryptoError) return error;
  const message = error instanceof Error ? error.message : "";
  if (/identity key/i.test(message)) {
    return new CryptoError("untrusted_identity", "a device's identity key changed");
  }
  return new CryptoError("tampered", "pairwise message could not be decrypted");
}

export class Pairwise {
  constructor(
    private readonly signal: SignalStore,
    private readonly server: KeyServer,
    private readonly myUserId: string,
  ) {}

  async hasSession(userId: string, deviceId: string): Promise<boolean> {
    return new SessionCipher(this.signal, address(userId, deviceId)).hasOpenSession();
  }

  /**
   * Starts sessions with those of `deviceIds` that have none, from their prekey bundles.
   * Returns the devices that could not be reached (no keys published).
   */
  async ensureSessions(userId: string, deviceIds: string[]): Promise<string[]> {
    const missing: string[] = [];
    for (const deviceId of deviceIds) {
      if (!(await this.hasSession(userId, deviceId))) missing.push(deviceId);
    }
    if (missing.length === 0) return [];
    const bundles = await this.fetchBundles(userId, missing);
    const unreachable: string[] = [];
    for (const deviceId of missing) {
      const bundle = bundles.get(deviceId);
      if (!bundle) {
        unreachable.push(deviceId);
        continue;
      }
      try {
        await new SessionBuilder(this.signal, address(userId, deviceId)).processPreKey(
          toDeviceType(bundle),
        );
      } catch (error) {
        throw signalError(error);
      }
    }
    return unreachable;
  }

  // One request for a contact's devices; per device for our own (so this device's own
  // one-time prekey is not spent) or when only some devices are new.
  private async fetchBundles(userId: string, deviceIds: string[]): Promise<Map<string, PrekeyBundle>> {
    const found = new Map<string, PrekeyBundle>();
    if (userId !== this.myUserId && deviceIds.length > 1) {
      for (const bundle of (await this.server.prekeyBundles(userId)).devices) {
        found.set(bundle.device_id, bundle);
      }
      return found;
    }
    await Promise.all(
      deviceIds.map(async (deviceId) => {
        try {
          found.set(deviceId, await this.server.deviceBundle(userId, deviceId));
        } catch {
          // No keys (not published yet, or the device is gone): reported as unreachable.
        }
      }),
    );
    return found;
  }

  /** Encrypts for a device with which a session exists (see `ensureSessions`). */
  async encrypt(userId: string, deviceId: string, plaintext: Uint8Array): Promise<string> {
    const copy = new Uint8Array(plaintext);
    const message = await new SessionCipher(this.signal, address(userId, deviceId)).encrypt(
      copy.buffer,
    );
    if (message.body === undefined) throw new Error("libsignal returned no body");
    const body = binaryStringToBytes(message.body);
    const out = new Uint8Array(1 + body.length);
    out[0] = message.type;
    out.set(body, 1);
    return toBase64(out);
  }

  /** Decrypts a message from a device; `startedSession` when it was a prekey message. */
  async decrypt(
    userId: string,
    deviceId: string,
    ciphertext: string,
  ): Promise<{ plaintext: Uint8Array; startedSession: boolean }> {
    const bytes = fromBase64(ciphertext);
    if (bytes.length < 2) throw new CryptoError("malformed", "pairwise message too short");
    const body = bytes.slice(1).buffer;
    const cipher = new SessionCipher(this.signal, address(userId, deviceId));
    try {
      if (bytes[0] === PREKEY_MESSAGE) {
        const plain = await cipher.decryptPreKeyWhisperMessage(body);
        return { plaintext: new Uint8Array(plain), startedSession: true };
      }
      if (bytes[0] === MESSAGE) {
        return { plaintext: await this.decryptMessage(userId, deviceId, body), startedSession: false };
      }
    } catch (error) {
      throw signalError(error);
    }
    throw new CryptoError("malformed", "unknown pairwise message type");
  }

  private decryptMessage(userId: string, deviceId: string, body: ArrayBuffer): Promise<Uint8Array> {
    const remote = address(userId, deviceId);
    const name = remote.toString();
    const cipher = new SessionCipher(this.signal, remote);
    return SessionLock.queueJobForNumber(name, async () => {
      const stored = await this.signal.loadSession(name);
      if (!stored) throw new CryptoError("tampered", "no session with that device");
      const count = SessionRecord.deserialize(stored).getSessions().length;
      let failure: unknown;
      // libsignal's order: the open session first, then the most recently closed.
      for (let i = count - 1; i >= 0; i--) {
        const record = SessionRecord.deserialize(stored);
        const session = record.getSessions()[i]!;
        let plain: ArrayBuffer;
        try {
          plain = await cipher.doDecryptWhisperMessage(body.slice(0), session);
        } catch (error) {
          if (error instanceof Error && error.name === "MessageCounterError") throw error;
          failure = error;
          continue;
        }
        if (session !== record.getOpenSession()) {
          record.archiveCurrentState();
          record.promoteState(session);
        }
        const remoteIdentity = session.indexInfo.remoteIdentityKey;
        if (!(await this.signal.isTrustedIdentity(remote.getName(), remoteIdentity, 2))) {
          throw new CryptoError("untrusted_identity", "a device's identity key changed");
        }
        await this.signal.saveIdentity(name, remoteIdentity);
        record.updateSessionState(session);
        await this.signal.storeSession(name, record.serialize());
        return new Uint8Array(plain);
      }
      throw failure ?? new Error("no session decrypted the message");
    });
  }
}
