import { describe, expect, it } from "vitest";
import { decodeContent, encodeContent, previewOf, type Content } from "../../src/app/content";

describe("message content", () => {
  it("round-trips body, reply and attachment", () => {
    const content: Content = {
      v: 1,
      body: "see attached",
      reply: { message_id: "m1", sender_id: "u1", preview: "earlier" },
      file: { file_id: "f1", key: "a2V5", name: "clip.webm", mime: "video/webm", size: 42 },
      forwarded_from_sender: "u2",
    };
    expect(decodeContent(encodeContent(content))).toEqual(content);
  });

  it("refuses bytes that are not ours", () => {
    const bytes = (text: string) => new TextEncoder().encode(text);
    expect(decodeContent(bytes("not json"))).toBeNull();
    expect(decodeContent(bytes('{"v":2,"body":"x"}'))).toBeNull();
    expect(decodeContent(bytes('{"v":1}'))).toBeNull();
    expect(decodeContent(new Uint8Array([0xff, 0xfe]))).toBeNull();
  });

  it("drops malformed optional parts and keeps the body", () => {
    const decoded = decodeContent(new TextEncoder().encode('{"v":1,"body":"hi","reply":{"message_id":1},"file":{"file_id":"f"}}'));
    expect(decoded).toEqual({ v: 1, body: "hi" });
  });

  it("previews are one line and short", () => {
    expect(previewOf("a\n\n b")).toBe("a b");
    const long = previewOf("x".repeat(200));
    expect(long.length).toBe(80);
    expect(long.endsWith("…")).toBe(true);
  });
});
