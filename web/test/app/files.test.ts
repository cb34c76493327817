import { describe, expect, it } from "vitest";
import { chunkLayout, plainRange } from "../../src/app/files/layout";
import { isStreamable, streamType } from "../../src/app/files/mediaType";

const MiB = 1024 * 1024;

describe("chunk layout", () => {
  it("satisfies the server's rule chunk_count = ceil(size / chunk_size) for sealed sizes", () => {
    for (const plain of [1, MiB - 1, MiB, MiB + 1, 20 * MiB + 12345]) {
      const layout = chunkLayout(plain, 54);
      expect(layout.chunkCount).toBe(Math.ceil(layout.size / layout.chunkSize));
      expect(layout.chunkCount).toBe(Math.ceil(plain / MiB));
    }
  });

  it("covers the file with chunk ranges", () => {
    const size = 2 * MiB + 10;
    expect(plainRange(0, size)).toEqual([0, MiB]);
    expect(plainRange(2, size)).toEqual([2 * MiB, size]);
  });
});

describe("stream types", () => {
  const bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

  it("reads WebM codecs from the header", () => {
    expect(streamType("video/webm", bytes("\x1a\x45\xdf\xa3....V_VP8....A_OPUS"))).toBe('video/webm; codecs="vp8,opus"');
    expect(streamType("audio/webm", bytes("\x1a\x45\xdf\xa3..A_VORBIS"))).toBe('audio/webm; codecs="vorbis"');
    expect(streamType("video/webm", bytes("nothing known"))).toBeNull();
  });

  it("reads the H.264 profile of an MP4", () => {
    const head = new Uint8Array([...bytes("....avcC"), 1, 0x42, 0xe0, 0x1e, ...bytes("..mp4a")]);
    expect(streamType("video/mp4", head)).toBe('video/mp4; codecs="avc1.42E01E,mp4a.40.2"');
  });

  it("streams only media it can", () => {
    expect(isStreamable("video/webm")).toBe(true);
    expect(isStreamable("audio/mpeg")).toBe(true);
    expect(isStreamable("image/png")).toBe(false);
    expect(streamType("application/pdf", bytes("%PDF"))).toBeNull();
  });
});
