import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { FRANKING_KEY_BYTES, frankingCommitment, verifyFranking } from "../../src/crypto";

const text = (s: string) => new TextEncoder().encode(s);

describe("franking", () => {
  const key = Uint8Array.from({ length: FRANKING_KEY_BYTES }, (_, i) => i);

  it("is HMAC-SHA256 of the plaintext under the franking key (API.md)", () => {
    const expected = createHmac("sha256", key).update("report me").digest("hex");
    expect(Buffer.from(frankingCommitment(key, text("report me"))).toString("hex")).toBe(expected);
  });

  it("verifies the right plaintext and key, and nothing else", () => {
    const commitment = frankingCommitment(key, text("report me"));
    expect(verifyFranking(text("report me"), key, commitment)).toBe(true);
    expect(verifyFranking(text("report you"), key, commitment)).toBe(false);
    const otherKey = new Uint8Array(key);
    otherKey[0] = 0xff;
    expect(verifyFranking(text("report me"), otherKey, commitment)).toBe(false);
    expect(verifyFranking(text("report me"), key, commitment.subarray(0, 31))).toBe(false);
    expect(verifyFranking(text("report me"), key.subarray(0, 16), commitment)).toBe(false);
  });
});
