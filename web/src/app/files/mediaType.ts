// MediaSource needs the codecs of a stream up front; a file's MIME type says
// only the container. Read them from the first bytes (WebM names its codecs
// in ASCII CodecIDs; MP4's avcC box holds the H.264 profile).

const WEBM_CODECS: [string, string][] = [
  ["V_VP8", "vp8"],
  ["V_VP9", "vp9"],
  ["V_AV1", "av01.0.04M.08"],
  ["A_OPUS", "opus"],
  ["A_VORBIS", "vorbis"],
];

function ascii(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, "0").toUpperCase();
}

/** The MediaSource type of a stream, or null when it cannot be streamed. */
export function streamType(mime: string, head: Uint8Array): string | null {
  const text = ascii(head.subarray(0, 64 * 1024));
  const base = mime.split(";")[0]!.trim().toLowerCase();
  if (base === "video/webm" || base === "audio/webm" || text.startsWith("\x1a\x45\xdf\xa3")) {
    const codecs = WEBM_CODECS.filter(([id]) => text.includes(id)).map(([, codec]) => codec);
    if (codecs.length === 0) return null;
    const kind = codecs.some((c) => !["opus", "vorbis"].includes(c)) ? "video" : "audio";
    return `${kind}/webm; codecs="${codecs.join(",")}"`;
  }
  if (base === "video/mp4" || base === "audio/mp4") {
    const codecs: string[] = [];
    const avcc = text.indexOf("avcC");
    if (avcc >= 0 && avcc + 8 <= head.length) codecs.push(`avc1.${hex(head[avcc + 5]!)}${hex(head[avcc + 6]!)}${hex(head[avcc + 7]!)}`);
    if (text.includes("mp4a")) codecs.push("mp4a.40.2");
    if (text.includes("Opus")) codecs.push("opus");
    if (codecs.length === 0) return null;
    return `${codecs.some((c) => c.startsWith("avc1")) ? "video" : "audio"}/mp4; codecs="${codecs.join(",")}"`;
  }
  if (base === "audio/mpeg") return "audio/mpeg";
  return null;
}

export function isStreamable(mime: string): boolean {
  return /^(video|audio)\/(webm|mp4|mpeg)/.test(mime);
}
