// Small byte helpers shared by the modules (no cryptography here).

/** The bytes as WebCrypto's BufferSource type wants them (copied only if not on an ArrayBuffer). */
export function buffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? (bytes as Uint8Array<ArrayBuffer>)
    : new Uint8Array(bytes);
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** u16 big-endian length, then the bytes: unambiguous concatenation of variable fields. */
export function lengthPrefixed(bytes: Uint8Array): Uint8Array {
  if (bytes.length > 0xffff) throw new RangeError("field longer than 65535 bytes");
  const out = new Uint8Array(2 + bytes.length);
  new DataView(out.buffer).setUint16(0, bytes.length);
  out.set(bytes, 2);
  return out;
}
