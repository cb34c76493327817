import {
  type Direction,
  type KeyPairType,
  type SessionRecordType,
  type StorageType,
} from "@privacyresearch/libsignal-protocol-typescript";
import { equalBytes } from "@noble/ciphers/utils.js";
import { CryptoError } from "./errors";
import { b64, getJson, putJson, unb64, unb64Buffer } from "./records";
import type { KeyStore } from "./store";

// libsignal's storage interface on top of the sealed KeyStore.
//
// Remote identities are trusted on first use, per device: a device id keeps the identity key
// it was first seen with (a re-installed browser is a new device, so a change means someone
// is impersonating the device). libsignal 0.0.16 does not await its trust check when a
// session starts from a received prekey message, so `saveIdentity` refuses a changed key
// too, which aborts that session before it is stored.

interface KeyPairJson {
  pub: string;
  priv: string;
}

const toJson = (pair: KeyPairType): KeyPairJson => ({ pub: b64(pair.pubKey), priv: b64(pair.privKey) });
const fromJson = (json: KeyPairJson): KeyPairType => ({
  pubKey: unb64Buffer(json.pub),
  privKey: unb64Buffer(json.priv),
});

export const IDENTITY_RECORD = "signal/identity";

export interface IdentityRecord {
  keyPair: KeyPairJson;
  registrationId: number;
}

/** libsignal addresses an identity by name; ours is one per device: "<user id>|<device id>". */
export function addressName(userId: string, deviceId: string): string {
  return `${userId}|${deviceId}`;
}

// libsignal passes "name" to isTrustedIdentity and "name.<device number>" to saveIdentity.
const identityName = (identifier: string): string => identifier.replace(/\.\d+$/, "");

export class SignalStore implements StorageType {
  constructor(readonly store: KeyStore) {}

  async getIdentityKeyPair(): Promise<KeyPairType | undefined> {
    const record = await getJson<IdentityRecord>(this.store, IDENTITY_RECORD);
    return record ? fromJson(record.keyPair) : undefined;
  }

  async getLocalRegistrationId(): Promise<number | undefined> {
    return (await getJson<IdentityRecord>(this.store, IDENTITY_RECORD))?.registrationId;
  }

  async saveLocalIdentity(keyPair: KeyPairType, registrationId: number): Promise<void> {
    await putJson(this.store, IDENTITY_RECORD, { keyPair: toJson(keyPair), registrationId });
  }

  /** The identity key first seen for a remote device, if any. */
  async trustedIdentity(name: string): Promise<Uint8Array | undefined> {
    const json = await getJson<string>(this.store, `signal/trusted/${name}`);
    return json ? unb64(json) : undefined;
  }

  async isTrustedIdentity(
    identifier: string,
    identityKey: ArrayBuffer,
    _direction: Direction,
  ): Promise<boolean> {
    const known = await this.trustedIdentity(identityName(identifier));
    return !known || equalBytes(known, new Uint8Array(identityKey));
  }

  async saveIdentity(encodedAddress: string, publicKey: ArrayBuffer): Promise<boolean> {
    const name = identityName(encodedAddress);
    const known = await this.trustedIdentity(name);
    if (known) {
      if (equalBytes(known, new Uint8Array(publicKey))) return false;
      throw new CryptoError("untrusted_identity", "a device's identity key changed");
    }
    await putJson(this.store, `signal/trusted/${name}`, b64(publicKey));
    return false;
  }

  async loadPreKey(keyId: string | number): Promise<KeyPairType | undefined> {
    const json = await getJson<KeyPairJson>(this.store, `signal/prekey/${keyId}`);
    return json ? fromJson(json) : undefined;
  }

  async storePreKey(keyId: number | string, keyPair: KeyPairType): Promise<void> {
    await putJson(this.store, `signal/prekey/${keyId}`, toJson(keyPair));
  }

  async removePreKey(keyId: number | string): Promise<void> {
    await this.store.delete(`signal/prekey/${keyId}`);
  }

  async storeSession(encodedAddress: string, record: SessionRecordType): Promise<void> {
    await putJson(this.store, `signal/session/${encodedAddress}`, record);
  }

  async loadSession(encodedAddress: string): Promise<SessionRecordType | undefined> {
    return getJson<SessionRecordType>(this.store, `signal/session/${encodedAddress}`);
  }

  async loadSignedPreKey(keyId: number | string): Promise<KeyPairType | undefined> {
    const json = await getJson<KeyPairJson>(this.store, `signal/signed-prekey/${keyId}`);
    return json ? fromJson(json) : undefined;
  }

  async storeSignedPreKey(keyId: number | string, keyPair: KeyPairType): Promise<void> {
    await putJson(this.store, `signal/signed-prekey/${keyId}`, toJson(keyPair));
  }

  async removeSignedPreKey(keyId: number | string): Promise<void> {
    await this.store.delete(`signal/signed-prekey/${keyId}`);
  }
}
