// The plaintext inside a sealed room message: our JSON, versioned. The server
// never sees it; a reply carries a preview of what it answers (so a reply
// shows even when the original is out of the loaded history), an attachment
// carries the file's key, name and type (the key never leaves end-to-end).

export interface ReplyPreview {
  message_id: string;
  sender_id: string;
  preview: string;
}

export interface Attachment {
  file_id: string;
  /** The file key, base64. */
  key: string;
  name: string;
  mime: string;
  size: number;
}

export interface Content {
  v: 1;
  body: string;
  reply?: ReplyPreview;
  file?: Attachment;
  /** Set on a forwarded copy: who wrote the original. */
  forwarded_from_sender?: string;
}

const PREVIEW_CHARS = 80;

export function previewOf(body: string): string {
  const flat = body.replace(/\s+/g, " ").trim();
  return flat.length > PREVIEW_CHARS ? `${flat.slice(0, PREVIEW_CHARS - 1)}…` : flat;
}

export function encodeContent(content: Content): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(content));
}

function str(value: unknown): value is string {
  return typeof value === "string";
}

function parseReply(value: unknown): ReplyPreview | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (!str(r["message_id"]) || !str(r["sender_id"]) || !str(r["preview"])) return undefined;
  return { message_id: r["message_id"], sender_id: r["sender_id"], preview: r["preview"] };
}

function parseAttachment(value: unknown): Attachment | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const f = value as Record<string, unknown>;
  if (!str(f["file_id"]) || !str(f["key"]) || !str(f["name"]) || !str(f["mime"]) || typeof f["size"] !== "number") return undefined;
  return { file_id: f["file_id"], key: f["key"], name: f["name"], mime: f["mime"], size: f["size"] };
}

/** The content of decrypted bytes; null when they are not ours (another client, garbage). */
export function decodeContent(bytes: Uint8Array): Content | null {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const c = value as Record<string, unknown>;
  if (c["v"] !== 1 || !str(c["body"])) return null;
  const content: Content = { v: 1, body: c["body"] };
  const reply = parseReply(c["reply"]);
  if (reply) content.reply = reply;
  const file = parseAttachment(c["file"]);
  if (file) content.file = file;
  if (str(c["forwarded_from_sender"])) content.forwarded_from_sender = c["forwarded_from_sender"];
  return content;
}
