// The wire shapes of /work/shared/API.md (REST answers, events, WebSocket frames).

export type Uuid = string;
export type Timestamp = string;
/** A delivery cursor: a CHAT_DELIVERY stream sequence as a decimal string. */
export type Cursor = string;

export interface User {
  id: Uuid;
  email?: string;
  phone?: string;
  username?: string;
  display_name: string;
  bio?: string;
  avatar_file_id?: Uuid;
  created_at: Timestamp;
  last_seen?: Timestamp;
  online?: boolean;
}

export interface Tokens {
  user: User;
  device_id: Uuid;
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

export interface Page<T> {
  items: T[];
  next: string | null;
}

export type RoomKind = "direct" | "group";
export type Role = "owner" | "admin" | "member";

export interface Member {
  user_id: Uuid;
  role: Role;
  joined_at: Timestamp;
}

export interface Room {
  id: Uuid;
  kind: RoomKind;
  name?: string | null;
  description?: string | null;
  join_rule: "open" | "invite";
  created_at: Timestamp;
  last_seq: number;
  unread?: number;
  members?: Member[];
}

export interface MessageRef {
  room_id: Uuid;
  message_id: Uuid;
}

export interface Message {
  id: Uuid;
  room_id: Uuid;
  seq: number;
  sender_id: Uuid;
  client_msg_id: Uuid;
  ciphertext?: string | null;
  content_type: string;
  reply_to?: Uuid | null;
  file_ids: Uuid[];
  forwarded_from?: MessageRef | null;
  sent_at: Timestamp;
  edited_at?: Timestamp | null;
  deleted: boolean;
  commitment?: string | null;
  reporting_tag?: string | null;
  franking_key_id?: string | null;
}

export interface NewMessage {
  client_msg_id: Uuid;
  ciphertext: string;
  content_type?: string;
  reply_to?: Uuid;
  file_ids?: Uuid[];
  forwarded_from?: MessageRef;
  commitment?: string;
}

export interface Device {
  device_id: Uuid;
  name?: string | null;
  created_at: Timestamp;
  last_seen_at?: Timestamp | null;
  current: boolean;
}

export interface PublicDevice {
  device_id: Uuid;
  identity_key: string;
  created_at: Timestamp;
}

export interface SignedPrekey {
  key_id: number;
  public_key: string;
  signature: string;
}

export interface OneTimePrekey {
  key_id: number;
  public_key: string;
}

export interface KeyUpload {
  identity_key: string;
  signed_prekey: SignedPrekey;
  one_time_prekeys: OneTimePrekey[];
}

export interface PrekeyBundle {
  device_id: Uuid;
  identity_key: string;
  signed_prekey: SignedPrekey;
  one_time_prekey?: OneTimePrekey | null;
}

export interface ToDeviceMessage {
  user_id: Uuid;
  device_id: Uuid;
  kind: string;
  ciphertext: string;
}

export interface FileCreate {
  room_id: Uuid;
  size: number;
  chunk_size: number;
  chunk_count: number;
  content_type?: string;
  wrapped_keys: Record<Uuid, string>;
  chunk_sha256?: string[];
  expires_in?: number;
}

export interface FileCreated {
  file_id: Uuid;
  chunks: { index: number; upload_url: string }[];
  expires_at?: Timestamp;
}

export interface FileInfo {
  file_id: Uuid;
  room_id: Uuid;
  uploader_id: Uuid;
  size: number;
  chunk_size: number;
  chunk_count: number;
  content_type: string;
  completed: boolean;
  wrapped_key: string;
  chunks: { index: number; size: number; download_url: string }[];
}

export interface TurnCredentials {
  urls: string[];
  username: string;
  credential: string;
  ttl: number;
}

export interface Report {
  id: Uuid;
  target: { kind: "message" | "file" | "user"; id: Uuid; room_id?: Uuid };
  reason: string;
  status: "open" | "dismissed" | "actioned";
  reporter_id: Uuid;
  created_at: Timestamp;
  verified?: boolean;
}

export interface NewReport {
  target: Report["target"];
  reason: string;
  evidence?: string;
  franking?: { plaintext: string; franking_key: string };
}

export interface Contact {
  user_id: Uuid;
  display_name: string;
  added_at: Timestamp;
}

export interface Block {
  user_id: Uuid;
  blocked_at: Timestamp;
}

export interface UserSettings {
  last_seen_visible_to: PrivacySetting;
  notifications: boolean;
}

export type PrivacySetting = "everybody" | "contacts" | "nobody";

export interface PushSubscriptionBody {
  platform: "webpush";
  subscription: { endpoint: string; keys: { p256dh: string; auth: string } };
}

// Events (flat JSON with their `type`).
export type MessageEvent_ = Message & { type: "message.sent" | "message.edited"; at: Timestamp };
export type MessageDeletedEvent = Message & { type: "message.deleted"; at: Timestamp; by: Uuid; taken_down: boolean };

export type ChatEvent =
  | MessageEvent_
  | MessageDeletedEvent
  | { type: "message.hidden"; room_id: Uuid; at: Timestamp; message_id: Uuid; seq: number }
  | { type: "room.created"; room_id: Uuid; at: Timestamp; kind: RoomKind; name: string | null; owner_id: Uuid }
  | { type: "room.updated"; room_id: Uuid; at: Timestamp; name: string | null; description: string | null }
  | { type: "member.joined" | "member.left" | "member.role_changed" | "member.invited"; room_id: Uuid; at: Timestamp; user_id: Uuid; role?: Role }
  | { type: "receipt.updated"; room_id: Uuid; at: Timestamp; user_id: Uuid; kind: "delivered" | "read"; up_to_seq: number }
  | { type: "file.chunk_available"; room_id: Uuid; at: Timestamp; file_id: Uuid; index: number; size: number }
  | { type: "file.completed"; room_id: Uuid; at: Timestamp; file_id: Uuid }
  | { type: "file.deleted"; room_id: Uuid; at: Timestamp; file_id: Uuid; reason: string }
  | { type: "to_device"; from_user: Uuid; from_device: Uuid; kind: string; ciphertext: string; at: Timestamp }
  | { type: "device.added" | "device.removed"; user_id: Uuid; device_id: Uuid; at: Timestamp };

export type SignalKind = "offer" | "answer" | "candidate" | "playback";

export type ServerFrame =
  | { type: "event"; cursor: Cursor; event: ChatEvent }
  | { type: "ready"; cursor: Cursor }
  | { type: "acked"; cursor: Cursor }
  | { type: "typing"; room_id: Uuid; user_id: Uuid; typing: boolean }
  | { type: "presence"; user_id: Uuid; online: boolean; last_seen: Timestamp | null }
  | { type: "signal"; from: Uuid; from_device?: Uuid | null; room_id: Uuid; kind: SignalKind; payload: unknown }
  | { type: "error"; code: string; message: string }
  | { type: "pong" }
  | { type: "report.created"; report: Report };

export type ClientFrame =
  | { type: "ack"; cursor: Cursor }
  | { type: "typing"; room_id: Uuid; typing: boolean }
  | { type: "signal"; to?: Uuid; device_id?: Uuid; room_id: Uuid; kind: SignalKind; payload: unknown }
  | { type: "presence"; user_id: Uuid }
  | { type: "ping" };
