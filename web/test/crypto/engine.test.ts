import "fake-indexeddb/auto";
import { describe, expect, it, vi } from "vitest";
import {
  CryptoError,
  Engine,
  fromBase64,
  keyStoreName,
  newFileKey,
  openIndexedDbKeyStore,
  toBase64,
  verifyFranking,
  type EngineOptions,
  type ToDeviceOutcome,
} from "../../src/crypto";
import { SignalStore } from "../../src/crypto/signalstore";
import { FakeKeyDirectory } from "./keydirectory";
import { rawRecords } from "./rawrecords";

// libsignal's Curve25519 and safety-number hashing are slow JavaScript, and the machine is shared.
vi.setConfig({ testTimeout: 60_000 });

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

let run = 0;

interface Device {
  userId: string;
  deviceId: string;
  engine: Engine;
  dbName: string;
}

/** A simulated browser profile: its own IndexedDB database and engine. */
async function device(
  dir: FakeKeyDirectory,
  userId: string,
  deviceId: string,
  options?: EngineOptions,
  dbName = `${keyStoreName(userId, deviceId)}/${++run}`,
): Promise<Device> {
  const store = await openIndexedDbKeyStore(dbName);
  const engine = await Engine.open(dir.serverFor(userId, deviceId), { userId, deviceId }, store, options);
  return { userId, deviceId, engine, dbName };
}

/** Delivers every pending to-device event to its device, as the WebSocket would. */
async function pump(dir: FakeKeyDirectory, devices: Device[]): Promise<ToDeviceOutcome[]> {
  const outcomes: ToDeviceOutcome[] = [];
  for (const d of devices) {
    for (const event of dir.take(d.userId, d.deviceId)) outcomes.push(await d.engine.handleToDevice(event));
  }
  return outcomes;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CryptoError) return error.code;
    throw error;
  }
  return "opened";
}

const ROOM = "0190b7a4-0000-7000-8000-000000000001";

async function setUp() {
  const dir = new FakeKeyDirectory();
  const a1 = await device(dir, "alice", "a1");
  const a2 = await device(dir, "alice", "a2");
  const b1 = await device(dir, "bob", "b1");
  const members = [{ userId: "alice" }, { userId: "bob" }];
  return { dir, a1, a2, b1, members, all: [a1, a2, b1] };
}

describe("room messages with sender keys", () => {
  it("every device of every member reads, both ways, and the sender re-reads its own", async () => {
    const { dir, a1, a2, b1, members, all } = await setUp();
    const sealed = await a1.engine.sealRoomMessage(ROOM, members, text("hello from a1"));
    await pump(dir, all);
    for (const reader of [b1, a2, a1]) {
      const opened = await reader.engine.openRoomMessage(ROOM, "alice", undefined, sealed.ciphertext);
      expect(str(opened.plaintext)).toBe("hello from a1");
      expect(opened.senderDeviceId).toBe("a1");
      expect(toBase64(opened.commitment)).toBe(sealed.commitment);
    }
    const reply = await b1.engine.sealRoomMessage(ROOM, members, text("hi alice"));
    await pump(dir, all);
    for (const reader of [a1, a2, b1]) {
      expect(str((await reader.engine.openRoomMessage(ROOM, "bob", "b1", reply.ciphertext)).plaintext)).toBe("hi alice");
    }
    // Nothing readable went over the to-device relay.
    for (const c of dir.wire) expect(Buffer.from(fromBase64(c)).includes(Buffer.from("hello"))).toBe(false);
  });

  it("opens messages out of order and again later; a message before the key is refused until it arrives", async () => {
    const { dir, a1, b1, members, all } = await setUp();
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push(await a1.engine.sealRoomMessage(ROOM, members, text(`m${i}`)));
    expect(await codeOf(b1.engine.openRoomMessage(ROOM, "alice", undefined, sent[0]!.ciphertext))).toBe("no_sender_key");
    const outcomes = await pump(dir, all);
    expect(outcomes).toContainEqual({ kind: "sender_key", roomId: ROOM, fromUser: "alice", fromDevice: "a1" });
    for (const i of [3, 0, 4, 1, 2, 3, 0]) {
      expect(str((await b1.engine.openRoomMessage(ROOM, "alice", undefined, sent[i]!.ciphertext)).plaintext)).toBe(`m${i}`);
    }
    // One sender key for all five: no re-keying without a change.
    expect(dir.wire.length).toBe(2);
  });

  it("refuses changed bytes, another room, another sender and a wrong device", async () => {
    const { dir, a1, b1, members, all } = await setUp();
    const sealed = await a1.engine.sealRoomMessage(ROOM, members, text("original"));
    await pump(dir, all);
    const bytes = fromBase64(sealed.ciphertext);
    for (const at of [0, 3, 8, 12, bytes.length - 70, bytes.length - 1]) {
      const changed = new Uint8Array(bytes);
      changed[at] = changed[at]! ^ 0x01;
      expect(await codeOf(b1.engine.openRoomMessage(ROOM, "alice", undefined, toBase64(changed)))).not.toBe("opened");
    }
    expect(await codeOf(b1.engine.openRoomMessage("other-room", "alice", undefined, sealed.ciphertext))).toBe("no_sender_key");
    expect(await codeOf(b1.engine.openRoomMessage(ROOM, "mallory", undefined, sealed.ciphertext))).toBe("no_sender_key");
    expect(await codeOf(b1.engine.openRoomMessage(ROOM, "alice", "a2", sealed.ciphertext))).toBe("tampered");
    expect(await codeOf(b1.engine.openRoomMessage(ROOM, "alice", undefined, "not base64!"))).toBe("malformed");
    // Still readable after all that.
    expect(str((await b1.engine.openRoomMessage(ROOM, "alice", "a1", sealed.ciphertext)).plaintext)).toBe("original");
  });

  it("carries a franking key that verifies the plaintext and nothing else", async () => {
    const { dir, a1, b1, members, all } = await setUp();
    const sealed = await a1.engine.sealRoomMessage(ROOM, members, text("abusive words"));
    await pump(dir, all);
    const opened = await b1.engine.openRoomMessage(ROOM, "alice", undefined, sealed.ciphertext);
    const commitment = fromBase64(sealed.commitment);
    expect(commitment.length).toBe(32);
    expect(verifyFranking(opened.plaintext, opened.frankingKey, commitment)).toBe(true);
    expect(verifyFranking(text("kind words"), opened.frankingKey, commitment)).toBe(false);
    const other = await a1.engine.sealRoomMessage(ROOM, members, text("abusive words"));
    expect(other.commitment).not.toBe(sealed.commitment); // a fresh key per message
  });

  it("re-keys when a device is removed: the removed device cannot read what follows", async () => {
    const { dir, a1, a2, b1, members, all } = await setUp();
    const before = await b1.engine.sealRoomMessage(ROOM, members, text("before"));
    await pump(dir, all);
    expect(str((await a2.engine.openRoomMessage(ROOM, "bob", undefined, before.ciphertext)).plaintext)).toBe("before");
    dir.removeDevice("alice", "a2");
    await b1.engine.onDeviceChange("alice");
    const after = await b1.engine.sealRoomMessage(ROOM, members, text("after"));
    const outcomes = await pump(dir, [a1, b1]);
    expect(outcomes.filter((o) => o.kind === "sender_key")).toHaveLength(1);
    expect(str((await a1.engine.openRoomMessage(ROOM, "bob", undefined, after.ciphertext)).plaintext)).toBe("after");
    expect(await codeOf(a2.engine.openRoomMessage(ROOM, "bob", undefined, after.ciphertext))).toBe("no_sender_key");    // Messages under the previous key stay readable.
    expect(str((await a1.engine.openRoomMessage(ROOM, "bob", undefined, before.ciphertext)).plaintext)).toBe("before");
  });

  it("reaches the sender's own other devices even when the member list leaves the sender out", async () => {
    const { dir, a1, a2, b1, all } = await setUp();
    const sealed = await a1.engine.sealRoomMessage(ROOM, [{ userId: "bob" }], text("to bob"));
    await pump(dir, all);
    for (const reader of [a2, b1]) {
      expect(str((await reader.engine.openRoomMessage(ROOM, "alice", undefined, sealed.ciphertext)).plaintext)).toBe("to bob");
    }
  });

  it("re-keys when a device is added: it reads from then on, not the history before it", async () => {
    const { dir, a1, b1, members, all } = await setUp();
    const old = await a1.engine.sealRoomMessage(ROOM, members, text("old"));
    await pump(dir, all);
    const b2 = await device(dir, "bob", "b2");
    await a1.engine.onDeviceChange("bob");
    const fresh = await a1.engine.sealRoomMessage(ROOM, members, text("fresh"));
    await pump(dir, [...all, b2]);
    expect(str((await b2.engine.openRoomMessage(ROOM, "alice", undefined, fresh.ciphertext)).plaintext)).toBe("fresh");
    expect(str((await b1.engine.openRoomMessage(ROOM, "alice", undefined, fresh.ciphertext)).plaintext)).toBe("fresh");
    expect(await codeOf(b2.engine.openRoomMessage(ROOM, "alice", undefined, old.ciphertext))).toBe("no_sender_key");
  });

  it("re-keys when a member leaves", async () => {
    const { dir, a1, a2, b1, members, all } = await setUp();
    await a1.engine.sealRoomMessage(ROOM, members, text("to both"));
    await pump(dir, all);
    await a1.engine.onMembershipChange(ROOM);
    const secret = await a1.engine.sealRoomMessage(ROOM, [{ userId: "alice" }], text("alice only"));
    await pump(dir, all);
    expect(str((await a2.engine.openRoomMessage(ROOM, "alice", undefined, secret.ciphertext)).plaintext)).toBe("alice only");
    expect(await codeOf(b1.engine.openRoomMessage(ROOM, "alice", undefined, secret.ciphertext))).toBe("no_sender_key");
  });

  it("replaces a sender key after its message limit, and forgets a room on request", async () => {
    const dir = new FakeKeyDirectory();
    const a1 = await device(dir, "alice", "a1", { senderKeyMaxMessages: 3 });
    const b1 = await device(dir, "bob", "b1");
    const members = [{ userId: "alice" }, { userId: "bob" }];
    const sent = [];
    for (let i = 0; i < 7; i++) sent.push(await a1.engine.sealRoomMessage(ROOM, members, text(`m${i}`)));
    const keys = (await pump(dir, [b1])).filter((o) => o.kind === "sender_key");
    expect(keys).toHaveLength(3); // messages 0-2, 3-5, 6
    for (const [i, m] of sent.entries()) {
      expect(str((await b1.engine.openRoomMessage(ROOM, "alice", undefined, m.ciphertext)).plaintext)).toBe(`m${i}`);
    }
    await b1.engine.forgetRoom(ROOM);
    expect(await codeOf(b1.engine.openRoomMessage(ROOM, "alice", undefined, sent[0]!.ciphertext))).toBe("no_sender_key");
  });

  it("offers the key again to a device that had no keys yet when the message was sent", async () => {
    const dir = new FakeKeyDirectory();
    const a1 = await device(dir, "alice", "a1");
    const members = [{ userId: "alice" }, { userId: "bob", deviceIds: ["b1"] }];
    const first = await a1.engine.sealRoomMessage(ROOM, members, text("early"));
    const b1 = await device(dir, "bob", "b1");
    const second = await a1.engine.sealRoomMessage(ROOM, members, text("later"));
    await pump(dir, [b1]);
    expect(str((await b1.engine.openRoomMessage(ROOM, "alice", undefined, second.ciphertext)).plaintext)).toBe("later");
    expect(await codeOf(b1.engine.openRoomMessage(ROOM, "alice", undefined, first.ciphertext))).toBe("message_key_unavailable");
    // b1 was a recipient of that key (it just had no keys yet): asking gets it from the start.
    await b1.engine.requestSenderKey(ROOM, "alice", first.ciphertext);
    expect(await pump(dir, [a1])).toMatchObject([{ kind: "key_request", answered: true }]);
    expect(await pump(dir, [b1])).toMatchObject([{ kind: "sender_key" }]);
    expect(str((await b1.engine.openRoomMessage(ROOM, "alice", undefined, first.ciphertext)).plaintext)).toBe("early");
    expect(str((await b1.engine.openRoomMessage(ROOM, "alice", undefined, second.ciphertext)).plaintext)).toBe("later");
  });

  it("gets a lost sender key by asking, once a minute at most; a device added later is refused", async () => {
    const { dir, a1, b1, members, all } = await setUp();
    const m1 = await a1.engine.sealRoomMessage(ROOM, members, text("one"));
    const m2 = await a1.engine.sealRoomMessage(ROOM, members, text("two"));
    dir.take("bob", "b1"); // the distribution is lost
    expect(await codeOf(b1.engine.openRoomMessage(ROOM, "alice", undefined, m2.ciphertext))).toBe("no_sender_key");
    await b1.engine.requestSenderKey(ROOM, "alice", m2.ciphertext);
    const sent = dir.wire.length;
    await b1.engine.requestSenderKey(ROOM, "alice", m1.ciphertext);
    expect(dir.wire.length).toBe(sent);
    await pump(dir, all);
    for (const [m, body] of [[m2, "two"], [m1, "one"]] as const) {
      expect(str((await b1.engine.openRoomMessage(ROOM, "alice", undefined, m.ciphertext)).plaintext)).toBe(body);
    }
    const b2 = await device(dir, "bob", "b2");
    await b2.engine.requestSenderKey(ROOM, "alice", m1.ciphertext);
    expect(await pump(dir, [a1])).toMatchObject([{ kind: "key_request", fromDevice: "b2", answered: false }]);
    expect(await pump(dir, [b2])).toEqual([]);
    expect(await codeOf(b2.engine.openRoomMessage(ROOM, "alice", undefined, m1.ciphertext))).toBe("no_sender_key");
  });
});

describe("interleavings", () => {
  it("random sends and deliveries among three devices all decrypt", async () => {
    const { dir, members, all } = await setUp();
    // SEED=<n> npm test tries another interleaving.
    let seed = Number(process.env.SEED ?? 20261207);
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const room: { sender: (typeof all)[number]; ciphertext: string; body: string }[] = [];
    const expected = new Map<string, string[]>();
    const got = new Map<string, string[]>();
    const deliver = async (d: (typeof all)[number]) => {
      for (const outcome of await pump(dir, [d])) {
        expect(outcome.kind).not.toBe("ignored");
        if (outcome.kind === "payload") got.set(d.deviceId, [...(got.get(d.deviceId) ?? []), str(outcome.payload)]);
      }
    };
    for (let step = 0; step < 40; step++) {
      const who = all[random(3)]!;
      const action = random(3);
      if (action === 0) {
        const body = `room ${step}`;
        room.push({ sender: who, body, ciphertext: (await who.engine.sealRoomMessage(ROOM, members, text(body))).ciphertext });
      } else if (action === 1) {
        const to = all.filter((d) => d !== who)[random(2)]!;
        const body = `direct ${step}`;
        await who.engine.sendToDevices([{ userId: to.userId, deviceIds: [to.deviceId] }], "x", text(body));
        expected.set(to.deviceId, [...(expected.get(to.deviceId) ?? []), body]);
      } else {
        await deliver(all[random(3)]!);
      }
    }
    for (const d of all) await deliver(d);
    for (const d of all) expect(got.get(d.deviceId) ?? []).toEqual(expected.get(d.deviceId) ?? []);
    for (const m of room) {
      for (const reader of all) {
        const opened = await reader.engine.openRoomMessage(ROOM, m.sender.userId, m.sender.deviceId, m.ciphertext);
        expect(str(opened.plaintext)).toBe(m.body);
      }
    }
  });
});

describe("pairwise to-device payloads", () => {
  it("travel both ways and identify their sender; a redelivered one is ignored", async () => {
    const { dir, a1, a2, b1 } = await setUp();
    expect(await a1.engine.sendToDevices([{ userId: "bob" }, { userId: "alice" }], "call.key", text("k1"))).toEqual([]);
    const events = dir.take("bob", "b1");
    const outcome = await b1.engine.handleToDevice(events[0]!);
    expect(outcome).toMatchObject({ kind: "payload", appKind: "call.key", fromUser: "alice", fromDevice: "a1" });
    expect(str((outcome as { payload: Uint8Array }).payload)).toBe("k1");
    expect(await b1.engine.handleToDevice(events[0]!)).toMatchObject({ kind: "ignored" });
    expect((await pump(dir, [a2]))[0]).toMatchObject({ kind: "payload", fromDevice: "a1" });
    await b1.engine.sendToDevices([{ userId: "alice", deviceIds: ["a1"] }], "call.key", text("k2"));
    const back = await pump(dir, [a1]);
    expect(str((back[0] as { payload: Uint8Array }).payload)).toBe("k2");
  });

  it("survive both sides starting a session at the same time", async () => {
    const { dir, a1, b1 } = await setUp();
    const members = [{ userId: "alice" }, { userId: "bob" }];
    const fromAlice = await a1.engine.sealRoomMessage(ROOM, members, text("a first"));
    const fromBob = await b1.engine.sealRoomMessage(ROOM, members, text("b first"));
    await pump(dir, [a1, b1]);
    expect(str((await b1.engine.openRoomMessage(ROOM, "alice", undefined, fromAlice.ciphertext)).plaintext)).toBe("a first");
    expect(str((await a1.engine.openRoomMessage(ROOM, "bob", undefined, fromBob.ciphertext)).plaintext)).toBe("b first");
    for (let round = 0; round < 3; round++) {
      await a1.engine.sendToDevices([{ userId: "bob", deviceIds: ["b1"] }], "x", text(`a${round}`));
      await b1.engine.sendToDevices([{ userId: "alice", deviceIds: ["a1"] }], "x", text(`b${round}`));
      const [toBob] = await pump(dir, [b1]);
      const [toAlice] = await pump(dir, [a1]);
      expect(str((toBob as { payload: Uint8Array }).payload)).toBe(`a${round}`);
      expect(str((toAlice as { payload: Uint8Array }).payload)).toBe(`b${round}`);
    }
  });

  it("are split into batches the server accepts", async () => {
    const { dir, a1, a2, b1 } = await setUp();
    const batches: number[] = [];
    const server = dir.serverFor("alice", "a1");
    const send = server.sendToDevice;
    server.sendToDevice = async (batch) => {
      batches.push(batch.messages.reduce((n, m) => n + fromBase64(m.ciphertext).length, 0));
      return send(batch);
    };
    const engine = await Engine.open(server, { userId: "alice", deviceId: "a1" }, await openIndexedDbKeyStore(a1.dbName));
    const big = new Uint8Array(150 * 1024).fill(7);
    await engine.sendToDevices([{ userId: "bob" }, { userId: "alice" }], "blob", big);
    expect(batches.length).toBe(2);
    for (const size of batches) expect(size).toBeLessThan(512 * 1024);
    for (const d of [a2, b1]) expect((await pump(dir, [d]))[0]).toMatchObject({ kind: "payload", appKind: "blob" });
  });

  it("refuses messages from a device whose identity key changed under the same device id", async () => {
    const { dir, a1, b1 } = await setUp();
    await b1.engine.sendToDevices([{ userId: "alice", deviceIds: ["a1"] }], "x", text("first"));
    expect((await pump(dir, [a1]))[0]).toMatchObject({ kind: "payload" });
    // New keys appear under bob's device id b1 (a forging server, or an attacker with it).
    const impostor = await device(dir, "bob", "b1");
    await impostor.engine.sendToDevices([{ userId: "alice", deviceIds: ["a1"] }], "x", text("trust me"));
    expect(await pump(dir, [a1])).toEqual([{ kind: "ignored", reason: "untrusted_identity" }]);
    // The session with the real b1 goes on.
    await b1.engine.sendToDevices([{ userId: "alice", deviceIds: ["a1"] }], "x", text("second"));
    const [outcome] = await pump(dir, [a1]);
    expect(str((outcome as { payload: Uint8Array }).payload)).toBe("second");
  });
});

describe("safety numbers", () => {
  it("are the same on both devices, and differ for an impostor", async () => {
    const { dir, a1, b1 } = await setUp();
    const seen = await a1.engine.safetyNumber("bob", "b1");
    expect(seen).toMatch(/^\d{60}$/);
    expect(await b1.engine.safetyNumber("alice", "a1")).toBe(seen);
    const impostor = await device(dir, "bob", "b1");
    expect(await impostor.engine.safetyNumber("alice", "a1")).not.toBe(seen);
  });
});

describe("keys at rest and in the directory", () => {
  it("are created and published once, then reloaded from IndexedDB", async () => {
    const dir = new FakeKeyDirectory();
    const first = await device(dir, "alice", "a1", undefined, "reload-test");
    const b1 = await device(dir, "bob", "b1");
    const members = [{ userId: "alice" }, { userId: "bob" }];
    const m1 = await first.engine.sealRoomMessage(ROOM, members, text("one"));
    await pump(dir, [b1]);
    const identity = first.engine.identityKey;
    // At rest, no record holds the identity's private key in the clear.
    const peek = await openIndexedDbKeyStore("reload-test");
    const secret = (await new SignalStore(peek).getIdentityKeyPair())!.privKey;
    peek.close();
    for (const raw of await rawRecords("reload-test")) {
      expect(Buffer.from(raw).includes(Buffer.from(secret))).toBe(false);
    }
    expect(dir.putCount).toBe(2);
    first.engine.close();

    const again = await device(dir, "alice", "a1", undefined, "reload-test");
    expect(again.engine.identityKey).toBe(identity);
    expect(dir.putCount).toBe(2); // nothing published again
    const m2 = await again.engine.sealRoomMessage(ROOM, members, text("two"));
    expect(dir.take("bob", "b1")).toEqual([]); // same sender key, no new distribution
    expect(str((await b1.engine.openRoomMessage(ROOM, "alice", undefined, m2.ciphertext)).plaintext)).toBe("two");
    expect(str((await again.engine.openRoomMessage(ROOM, "alice", undefined, m1.ciphertext)).plaintext)).toBe("one");
    // The pairwise session survived too: no new prekey bundle is fetched for bob.
    const prekeys = await dir.serverFor("bob", "b1").countOneTimePrekeys();
    await again.engine.sendToDevices([{ userId: "bob" }], "x", text("still here"));
    expect(await dir.serverFor("bob", "b1").countOneTimePrekeys()).toBe(prekeys);
    expect(await pump(dir, [b1])).toMatchObject([{ kind: "payload" }]);
  });

  it("publishes the identity listed for the device and tops up one-time prekeys", async () => {
    const dir = new FakeKeyDirectory();
    const options = { oneTimePrekeyBatch: 5, oneTimePrekeyThreshold: 3 };
    const bob = await device(dir, "bob", "b1", options);
    const server = dir.serverFor("bob", "b1");
    expect(await server.countOneTimePrekeys()).toBe(5);
    expect((await server.userDevices("bob"))[0]!.identity_key).toBe(bob.engine.identityKey);
    for (let i = 0; i < 3; i++) {
      const other = await device(dir, `user${i}`, "d");
      await other.engine.sendToDevices([{ userId: "bob" }], "x", text("hi"));
    }
    expect(await server.countOneTimePrekeys()).toBe(2);
    expect(await bob.engine.replenishPrekeys()).toBe(5);
    expect(await server.countOneTimePrekeys()).toBe(7);
    expect(await bob.engine.replenishPrekeys()).toBe(0);
    // Sessions started from the new prekeys work.
    const late = await device(dir, "late", "d");
    await late.engine.sendToDevices([{ userId: "bob" }], "x", text("late"));
    for (let i = 0; i < 3; i++) dir.take("bob", "b1");
    const outcomes = await pump(dir, [bob]);
    expect(outcomes.filter((o) => o.kind === "payload")).toHaveLength(outcomes.length);
  });
});

describe("signed prekey rotation", () => {
  it("replaces an old signed prekey; sessions from bundles handed out before still start", async () => {
    const dir = new FakeKeyDirectory();
    const bob = await device(dir, "bob", "b1", undefined, "rotation-test");
    const early = await dir.serverFor("alice", "a1").deviceBundle("bob", "b1");
    expect(early.signed_prekey.key_id).toBe(1);
    bob.engine.close();
    // Reopened with a zero maximum age: the signed prekey is due.
    const again = await device(dir, "bob", "b1", { signedPrekeyMaxAgeMs: 0 }, "rotation-test");
    const late = await dir.serverFor("alice", "a1").deviceBundle("bob", "b1");
    expect(late.signed_prekey.key_id).toBe(2);
    expect(late.identity_key).toBe(early.identity_key);
    // alice built her session from the bundle of before the rotation.
    const alice = await device(dir, "alice", "a1");
    const server = dir.serverFor("alice", "a1");
    server.deviceBundle = async () => early;
    const withEarly = await Engine.open(server, { userId: "alice", deviceId: "a1" }, await openIndexedDbKeyStore(alice.dbName));
    await withEarly.sendToDevices([{ userId: "bob" }], "x", text("from an old bundle"));
    const [outcome] = await pump(dir, [again]);
    expect(str((outcome as { payload: Uint8Array }).payload)).toBe("from an old bundle");
  });
});

describe("file keys for wrapped_keys", () => {
  it("every member device unwraps its user's entry; other rooms and devices do not", async () => {
    const { a1, a2, b1, members } = await setUp();
    const fileKey = newFileKey();
    const wrapped = await a1.engine.wrapFileKey(ROOM, fileKey, members);
    expect(Object.keys(wrapped).sort()).toEqual(["alice", "bob"]);
    for (const [d, user] of [
      [a1, "alice"],
      [a2, "alice"],
      [b1, "bob"],
    ] as const) {
      expect(toBase64(await d.engine.unwrapFileKey(ROOM, wrapped[user]!))).toBe(toBase64(fileKey));
    }
    expect(await codeOf(b1.engine.unwrapFileKey("other-room", wrapped.bob!))).toBe("tampered");
    expect(await codeOf(b1.engine.unwrapFileKey(ROOM, wrapped.alice!))).toBe("no_keys");
    const changed = fromBase64(wrapped.bob!);
    changed[changed.length - 1] = changed[changed.length - 1]! ^ 1;
    expect(await codeOf(b1.engine.unwrapFileKey(ROOM, toBase64(changed)))).toBe("tampered");
  });
});
