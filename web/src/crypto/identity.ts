import { KeyHelper, type KeyPairType } from "@privacyresearch/libsignal-protocol-typescript";
import type { KeyServer, OneTimePrekeyJson, PutKeysBody } from "./keyserver";
import { b64, getJson, putJson } from "./records";
import type { SignalStore } from "./signalstore";

// This device's Signal identity and prekeys: created once, kept in the store, published to
// the key directory, one-time prekeys topped up when the server runs low.

export interface PrekeyPolicy {
  batch: number;
  threshold: number;
  /** The signed prekey is replaced once it is this old (ms). */
  signedPrekeyMaxAgeMs: number;
}

const STATE_RECORD = "signal/prekey-state";
const SIGNED_PREKEY_ID = 1;

interface PrekeyState {
  nextPrekeyId: number;
  signedPrekeyId: number;
  signedPrekeySignature: string;
  /** When the signed prekey was made (ms since the epoch); absent in older records. */
  signedPrekeyCreatedAt?: number;
  published: boolean;
}

async function generatePrekeys(
  signal: SignalStore,
  firstId: number,
  count: number,
): Promise<OneTimePrekeyJson[]> {
  const published: OneTimePrekeyJson[] = [];
  for (let keyId = firstId; keyId < firstId + count; keyId++) {
    const prekey = await KeyHelper.generatePreKey(keyId);
    await signal.storePreKey(keyId, prekey.keyPair);
    published.push({ key_id: keyId, public_key: b64(prekey.keyPair.pubKey) });
  }
  return published;
}

async function publicPrekeys(signal: SignalStore): Promise<OneTimePrekeyJson[]> {
  const names = await signal.store.names("signal/prekey/");
  const out: OneTimePrekeyJson[] = [];
  for (const name of names) {
    const keyId = Number(name.slice("signal/prekey/".length));
    const pair = await signal.loadPreKey(keyId);
    if (pair) out.push({ key_id: keyId, public_key: b64(pair.pubKey) });
  }
  return out;
}

/**
 * Loads this device's identity, or creates identity, signed prekey and a batch of one-time
 * prekeys. Publishes them with `PUT /v1/keys` until that has succeeded once.
 * Returns the public identity key.
 */
export async function loadOrCreateIdentity(
  signal: SignalStore,
  server: KeyServer,
  policy: PrekeyPolicy,
): Promise<ArrayBuffer> {
  let identity: KeyPairType | undefined = await signal.getIdentityKeyPair();
  let state = await getJson<PrekeyState>(signal.store, STATE_RECORD);
  if (!identity || !state) {
    identity = await KeyHelper.generateIdentityKeyPair();
    await signal.saveLocalIdentity(identity, KeyHelper.generateRegistrationId());
    const signed = await KeyHelper.generateSignedPreKey(identity, SIGNED_PREKEY_ID);
    await signal.storeSignedPreKey(SIGNED_PREKEY_ID, signed.keyPair);
    await generatePrekeys(signal, 1, policy.batch);
    state = {
      nextPrekeyId: policy.batch + 1,
      signedPrekeyId: SIGNED_PREKEY_ID,
      signedPrekeySignature: b64(signed.signature),
      signedPrekeyCreatedAt: Date.now(),
      published: false,
    };
    await putJson(signal.store, STATE_RECORD, state);
  }
  if (!state.published) {
    const signed = await signal.loadSignedPreKey(state.signedPrekeyId);
    if (!signed) throw new Error("signed prekey missing from the key store");
    const body: PutKeysBody = {
      identity_key: b64(identity.pubKey),
      signed_prekey: {
        key_id: state.signedPrekeyId,
        public_key: b64(signed.pubKey),
        signature: state.signedPrekeySignature,
      },
      one_time_prekeys: await publicPrekeys(signal),
    };
    await server.putKeys(body);
    await putJson(signal.store, STATE_RECORD, { ...state, published: true });
  }
  return identity.pubKey;
}

/**
 * Replaces the signed prekey once it is older than the policy allows, and publishes it with
 * a fresh batch of one-time prekeys (`PUT /v1/keys` replaces the whole bundle). The previous
 * signed prekey and the old one-time prekeys stay, for sessions started from bundles handed
 * out before; older signed prekeys are deleted. Returns whether it rotated.
 */
export async function rotateSignedPrekey(
  signal: SignalStore,
  server: KeyServer,
  policy: PrekeyPolicy,
): Promise<boolean> {
  const state = await getJson<PrekeyState>(signal.store, STATE_RECORD);
  const identity = await signal.getIdentityKeyPair();
  if (!state || !identity) throw new Error("no identity yet");
  if (state.signedPrekeyCreatedAt === undefined) {
    await putJson(signal.store, STATE_RECORD, { ...state, signedPrekeyCreatedAt: Date.now() });
    return false;
  }
  if (Date.now() - state.signedPrekeyCreatedAt < policy.signedPrekeyMaxAgeMs) return false;
  const keyId = state.signedPrekeyId + 1;
  const signed = await KeyHelper.generateSignedPreKey(identity, keyId);
  await signal.storeSignedPreKey(keyId, signed.keyPair);
  const oneTime = await generatePrekeys(signal, state.nextPrekeyId, policy.batch);
  const next: PrekeyState = {
    nextPrekeyId: state.nextPrekeyId + policy.batch,
    signedPrekeyId: keyId,
    signedPrekeySignature: b64(signed.signature),
    signedPrekeyCreatedAt: Date.now(),
    published: true,
  };
  await putJson(signal.store, STATE_RECORD, next);
  await server.putKeys({
    identity_key: b64(identity.pubKey),
    signed_prekey: { key_id: keyId, public_key: b64(signed.keyPair.pubKey), signature: next.signedPrekeySignature },
    one_time_prekeys: oneTime,
  });
  for (const name of await signal.store.names("signal/signed-prekey/")) {
    if (Number(name.slice("signal/signed-prekey/".length)) < keyId - 1) await signal.store.delete(name);
  }
  return true;
}

/** Adds a batch of one-time prekeys when the server holds fewer than the threshold; returns how many. */
export async function replenishPrekeys(
  signal: SignalStore,
  server: KeyServer,
  policy: PrekeyPolicy,
): Promise<number> {
  if ((await server.countOneTimePrekeys()) >= policy.threshold) return 0;
  const state = await getJson<PrekeyState>(signal.store, STATE_RECORD);
  if (!state) throw new Error("no identity yet");
  const list = await generatePrekeys(signal, state.nextPrekeyId, policy.batch);
  await putJson(signal.store, STATE_RECORD, { ...state, nextPrekeyId: state.nextPrekeyId + policy.batch });
  await server.addOneTimePrekeys(list);
  return list.length;
}
