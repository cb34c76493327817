// How a file is cut into sealed chunks: fixed plaintext chunks, each sealed
// with a fixed overhead, so the server's size rules (chunk_count =
// ceil(size / chunk_size)) hold for the sealed sizes.

export const PLAIN_CHUNK_BYTES = 1024 * 1024;

export interface ChunkLayout {
  chunkCount: number;
  /** Sealed size of a full chunk (the server's chunk_size). */
  chunkSize: number;
  /** Sealed size of the whole file (the server's size). */
  size: number;
}

export function chunkLayout(plainSize: number, overhead: number, plainChunk = PLAIN_CHUNK_BYTES): ChunkLayout {
  const chunkCount = Math.max(1, Math.ceil(plainSize / plainChunk));
  return { chunkCount, chunkSize: plainChunk + overhead, size: plainSize + chunkCount * overhead };
}

/** The plaintext byte range of chunk `index`. */
export function plainRange(index: number, plainSize: number, plainChunk = PLAIN_CHUNK_BYTES): [number, number] {
  const start = index * plainChunk;
  return [start, Math.min(plainSize, start + plainChunk)];
}
