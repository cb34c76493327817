// Small byte helpers shared by the modules (no cryptography here).

/** The bytes as WebCrypto's BufferSource type wants them (copied only if not on an ArrayBuffer). */
export function buffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? (bytes as Uint8Array<ArrayBuffer>)
    : new Uint8Array(bytes);
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
