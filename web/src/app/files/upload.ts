// Sending a file: declare it, announce it in a sealed message (with its key,
// so members can start playing while it uploads), then seal and PUT the
// chunks in order and complete it.
import { CHUNK_OVERHEAD, newFileKey, sealChunk, toBase64 } from "../../crypto";
import type { Chat } from "../chat/controller";
import { chunkLayout, plainRange } from "./layout";
import { patchTransfer, setTransfer } from "./transfers";

export async function sendFile(chat: Chat, roomId: string, file: File): Promise<void> {
  const fileKey = newFileKey();
  const room = await chat.room(roomId);
  const members = (room.members ?? []).map((m) => ({ userId: m.user_id }));
  const layout = chunkLayout(file.size, CHUNK_OVERHEAD);
  const wrapped = await chat.e2ee.wrapFileKey(roomId, fileKey, members);
  const created = await chat.api.files.create({
    room_id: roomId,
    size: layout.size,
    chunk_size: layout.chunkSize,
    chunk_count: layout.chunkCount,
    content_type: "application/octet-stream",
    wrapped_keys: wrapped,
  });
  const fileId = created.file_id;
  setTransfer(fileId, { direction: "up", done: 0, total: file.size, localUrl: URL.createObjectURL(file) });
  await chat.sendContent(
    roomId,
    { v: 1, body: file.name, file: { file_id: fileId, key: toBase64(fileKey), name: file.name, mime: file.type || "application/octet-stream", size: file.size } },
    { file_ids: [fileId] },
  );
  try {
    const urls = new Map(created.chunks.map((c) => [c.index, c.upload_url]));
    for (let index = 0; index < layout.chunkCount; index++) {
      const [start, end] = plainRange(index, file.size);
      const plain = new Uint8Array(await file.slice(start, end).arrayBuffer());
      const sealed = await sealChunk(fileKey, fileId, index, index === layout.chunkCount - 1, plain);
      let url = urls.get(index);
      if (!url) {
        const renewed = await chat.api.files.renewUploadUrls(fileId);
        for (const c of renewed.chunks) urls.set(c.index, c.upload_url);
        url = urls.get(index);
      }
      if (!url) throw new Error(`no upload URL for chunk ${index}`);
      await chat.api.files.putChunk(url, sealed);
      patchTransfer(fileId, { done: end });
    }
    await chat.api.files.complete(fileId);
    patchTransfer(fileId, { completed: true });
  } catch (error) {
    patchTransfer(fileId, { failed: error instanceof Error ? error.message : "upload failed" });
    throw error;
  }
}
