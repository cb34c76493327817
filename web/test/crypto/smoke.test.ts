import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { Engine, openIndexedDbKeyStore } from "../../src/crypto";
import { FakeKeyDirectory } from "./keydirectory";

describe("smoke", () => {
  it("two devices exchange a room message", async () => {
    const dir = new FakeKeyDirectory();
    const alice = await Engine.open(dir.serverFor("alice", "a1"), { userId: "alice", deviceId: "a1" }, await openIndexedDbKeyStore("s-a1"));
    const bob = await Engine.open(dir.serverFor("bob", "b1"), { userId: "bob", deviceId: "b1" }, await openIndexedDbKeyStore("s-b1"));
    const sealed = await alice.sealRoomMessage("room", [{ userId: "alice" }, { userId: "bob" }], new TextEncoder().encode("hi"));
    for (const e of dir.take("bob", "b1")) console.log((await bob.handleToDevice(e)).kind);
    const opened = await bob.openRoomMessage("room", "alice", undefined, sealed.ciphertext);
    expect(new TextDecoder().decode(opened.plaintext)).toBe("hi");
  });
});
