// Reading a file back chunk by chunk while it may still be uploading: which
// chunks are stored comes from GET /v1/files/{id}, refreshed when
// `file.chunk_available` arrives (and now and then, should an event be missed).
import { fromBase64, openChunk } from "../../crypto";
import type { FileInfo } from "../../api/types";
import type { Chat } from "../chat/controller";
import type { Attachment } from "../content";

const POLL_MS = 3000;

export class RemoteFile {
  private info: FileInfo | null = null;
  private readonly key: Uint8Array;
  private waiters: (() => void)[] = [];
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(
    private readonly chat: Chat,
    readonly attachment: Attachment,
  ) {
    this.key = fromBase64(attachment.key);
    this.unsubscribe = chat.onEvent((event) => {
      if ((event.type === "file.chunk_available" || event.type === "file.completed") && event.file_id === attachment.file_id) this.wake();
    });
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    this.wake();
  }

  private wake(): void {
    this.info = null;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private async load(): Promise<FileInfo> {
    this.info ??= await this.chat.api.files.get(this.attachment.file_id);
    return this.info;
  }

  async chunkCount(): Promise<number> {
    return (await this.load()).chunk_count;
  }

  /** Chunk `index`, decrypted; waits until it is stored. Null once closed. */
  async chunk(index: number): Promise<Uint8Array | null> {
    for (;;) {
      if (this.closed) return null;
      const info = await this.load();
      const stored = info.chunks.find((c) => c.index === index);
      if (stored) {
        const sealed = await this.chat.api.files.getChunk(stored.download_url).catch(() => null);
        if (sealed) return openChunk(this.key, this.attachment.file_id, index, index === info.chunk_count - 1, sealed);
        this.info = null; // URL expired or a hiccup: ask again
      }
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(() => {
          this.info = null;
          resolve();
        }, POLL_MS);
      });
    }
  }

  /** The whole file, decrypted (images, downloads). */
  async all(onProgress: (done: number) => void): Promise<Blob> {
    const count = await this.chunkCount();
    const parts: Uint8Array[] = [];
    let done = 0;
    for (let index = 0; index < count; index++) {
      const chunk = await this.chunk(index);
      if (!chunk) throw new Error("closed");
      parts.push(chunk);
      done += chunk.length;
      onProgress(done);
    }
    return new Blob(parts as BlobPart[], { type: this.attachment.mime });
  }
}
