// The logged-in chat: rooms, timelines, people and the live connection.
// Every event of the device's queue passes through `apply`, in order; every
// message shown passes through the engine's openRoomMessage, every message
// sent through sealRoomMessage.
import type { ApiClient } from "../../api/client";
import { RealtimeSocket, type SocketStatus } from "../../api/socket";
import { toBase64 } from "../../crypto";
import type { ChatEvent, Message, Room, ServerFrame } from "../../api/types";
import { type Content, decodeContent, encodeContent, previewOf } from "../content";
import { Observable } from "../store";
import { type E2ee, isMissingKey } from "./e2ee";
import { People } from "./people";
import { applyReceipt, type RoomReceipts } from "./receipts";
import { type ShownMessage, mergeBySeq, newestSeq, oldestSeq } from "./timeline";

export type SignalFrame = Extract<ServerFrame, { type: "signal" }>;

const PAGE = 50;
/** Reloads of the room list while it does not yet show a room an event named (waits of 0.1, 0.2, ... s). */
const ROOM_LIST_RETRIES = 5;

function uuid(): string {
  return crypto.randomUUID();
}

export class Chat {
  readonly rooms = new Observable<Room[]>([]);
  readonly status = new Observable<SocketStatus>("offline");
  readonly activeRoom = new Observable<string | null>(null);
  readonly people: People;
  readonly socket: RealtimeSocket;
  /** Room id -> whether older history remains. */
  readonly hasOlder = new Observable<Record<string, boolean>>({});
  readonly receipts = new Observable<Record<string, RoomReceipts>>({});
  private readonly timelines = new Map<string, Observable<ShownMessage[]>>();
  private readonly details = new Map<string, Room>();
  private readonly historyLoaded = new Set<string>();
  private readonly signalListeners = new Set<(frame: SignalFrame) => void>();
  private readonly eventListeners = new Set<(event: ChatEvent) => void>();

  constructor(
    readonly api: ApiClient,
    readonly e2ee: E2ee,
    readonly me: { userId: string; deviceId: string },
  ) {
    this.people = new People(api);
    this.socket = new RealtimeSocket({
      baseUrl: api.http.baseUrl,
      ticket: () => api.inbox.ticket(),
      onEvent: (event) => this.apply(event),
      onFrame: (frame) => this.frame(frame),
      onStatus: (status) => {
        this.status.set(status);
        if (status === "live") this.requestMissingKeys();
      },
    });
  }

  async start(): Promise<void> {
    const me = this.api.session.get()?.user;
    if (me) this.people.remember(me);
    await this.refreshRooms();
    this.socket.start();
  }

  stop(): void {
    this.socket.stop();
  }

  onSignal(listener: (frame: SignalFrame) => void): () => void {
    this.signalListeners.add(listener);
    return () => this.signalListeners.delete(listener);
  }

  onEvent(listener: (event: ChatEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  timeline(roomId: string): Observable<ShownMessage[]> {
    let timeline = this.timelines.get(roomId);
    if (!timeline) {
      timeline = new Observable<ShownMessage[]>([]);
      this.timelines.set(roomId, timeline);
    }
    return timeline;
  }

  /** Reloads the room list; with `expecting`, until it holds that room. An
   * event can reach this device before the server's room list has applied it
   * (the list is a read model that follows the same log), so a few short waits
   * are allowed for it. */
  async refreshRooms(expecting?: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const page = await this.api.rooms.list();
      this.rooms.set(page.items);
      const listed = !expecting || page.items.some((room) => room.id === expecting);
      if (listed || attempt >= ROOM_LIST_RETRIES) return;
      await new Promise((resolve) => setTimeout(resolve, 100 * (attempt + 1)));
    }
  }

  async room(roomId: string, fresh = false): Promise<Room> {
    const known = this.details.get(roomId);
    if (known && !fresh) return known;
    const room = await this.api.rooms.get(roomId);
    this.details.set(roomId, room);
    for (const member of room.members ?? []) this.people.load(member.user_id);
    return room;
  }

  /** The other member of a direct room, or null. */
  peerOf(room: Room): string | null {
    const details = this.details.get(room.id) ?? room;
    return details.members?.find((m) => m.user_id !== this.me.userId)?.user_id ?? null;
  }

  title(room: Room): string {
    if (room.name) return room.name;
    const peer = this.peerOf(room);
    return peer ? this.people.name(peer) : room.kind === "direct" ? "Direct chat" : "Group";
  }

  private async members(roomId: string): Promise<{ userId: string }[]> {
    const room = await this.room(roomId);
    return (room.members ?? []).map((m) => ({ userId: m.user_id }));
  }

  // ---- reading ----

  async open(roomId: string): Promise<void> {
    this.activeRoom.set(roomId);
    await this.room(roomId);
    const timeline = this.timeline(roomId);
    // Live events may have reached the timeline first; the newest page still has to be read.
    if (!this.historyLoaded.has(roomId)) {
      this.historyLoaded.add(roomId);
      const page = await this.api.messages.history(roomId, {}, PAGE).catch((error: unknown) => {
        this.historyLoaded.delete(roomId);
        throw error;
      });
      const shown = await Promise.all(page.items.map((m) => this.show(m)));
      timeline.update((list) => mergeBySeq(list, shown));
      this.hasOlder.update((all) => ({ ...all, [roomId]: page.items.length === PAGE && (page.items[0]?.seq ?? 1) > 1 }));
    }
    await this.markRead(roomId);
  }

  async loadOlder(roomId: string): Promise<void> {
    const timeline = this.timeline(roomId);
    const oldest = oldestSeq(timeline.get());
    if (oldest === null || oldest <= 1) return;
    const page = await this.api.messages.history(roomId, { before: oldest }, PAGE);
    const shown = await Promise.all(page.items.map((m) => this.show(m)));
    timeline.update((list) => mergeBySeq(list, shown));
    this.hasOlder.update((all) => ({ ...all, [roomId]: page.items.length === PAGE && (page.items[0]?.seq ?? 1) > 1 }));
  }

  async markRead(roomId: string): Promise<void> {
    const seq = newestSeq(this.timeline(roomId).get());
    this.rooms.update((rooms) => rooms.map((r) => (r.id === roomId ? { ...r, unread: 0 } : r)));
    if (seq > 0) await this.api.messages.receipt(roomId, seq, "read").catch(() => undefined);
  }

  /** Decrypts one message for display (tombstones have nothing to open). */
  private async show(message: Message, known?: { plaintext: Uint8Array; frankingKey?: Uint8Array }): Promise<ShownMessage> {
    if (message.deleted || !message.ciphertext) return { message, content: null };
    if (known) return { message, content: decodeContent(known.plaintext), plaintext: known.plaintext, frankingKey: known.frankingKey };
    try {
      const opened = await this.e2ee.openRoomMessage(message.room_id, message.sender_id, undefined, message.ciphertext);
      const content = decodeContent(opened.plaintext);
      return content
        ? { message, content, plaintext: opened.plaintext, frankingKey: opened.frankingKey }
        : { message, content: null, problem: "unreadable" };
    } catch (error) {
      if (!isMissingKey(error)) return { message, content: null, problem: "unreadable" };
      if (this.status.get() === "live") {
        void this.e2ee.requestSenderKey(message.room_id, message.sender_id, message.ciphertext).catch(() => undefined);
      }
      return { message, content: null, problem: "locked" };
    }
  }

  /** Once the backlog is in, keys still missing are asked of their senders. */
  private requestMissingKeys(): void {
    for (const timeline of this.timelines.values()) {
      for (const item of timeline.get()) {
        if (item.problem === "locked" && item.message.ciphertext) {
          void this.e2ee.requestSenderKey(item.message.room_id, item.message.sender_id, item.message.ciphertext).catch(() => undefined);
        }
      }
    }
  }

  /** A sender key arrived: try again what waited for it. */
  private async unlock(roomId: string): Promise<void> {
    const timeline = this.timelines.get(roomId);
    if (!timeline) return;
    const locked = timeline.get().filter((item) => item.problem === "locked");
    if (locked.length === 0) return;
    const shown = await Promise.all(locked.map((item) => this.show(item.message)));
    timeline.update((list) => mergeBySeq(list, shown));
  }

  // ---- writing ----

  private async seal(roomId: string, content: Content): Promise<{ ciphertext: string; commitment: string; plaintext: Uint8Array }> {
    const plaintext = encodeContent(content);
    const sealed = await this.e2ee.sealRoomMessage(roomId, await this.members(roomId), plaintext);
    return { ...sealed, plaintext };
  }

  async sendContent(roomId: string, content: Content, extra: { reply_to?: string; file_ids?: string[]; forwarded_from?: { room_id: string; message_id: string } } = {}): Promise<Message> {
    const sealed = await this.seal(roomId, content);
    const message = await this.api.messages.send(roomId, {
      client_msg_id: uuid(),
      ciphertext: sealed.ciphertext,
      commitment: sealed.commitment,
      content_type: "application/vnd.ciphertalk.message+json",
      ...extra,
    });
    const shown = await this.show(message, { plaintext: sealed.plaintext });
    this.timeline(roomId).update((list) => mergeBySeq(list, [shown]));
    return message;
  }

  send(roomId: string, body: string, replyTo?: ShownMessage): Promise<Message> {
    const content: Content = { v: 1, body };
    if (replyTo) {
      content.reply = { message_id: replyTo.message.id, sender_id: replyTo.message.sender_id, preview: previewOf(replyTo.content?.body ?? "") };
    }
    return this.sendContent(roomId, content, replyTo ? { reply_to: replyTo.message.id } : {});
  }

  async edit(item: ShownMessage, body: string): Promise<void> {
    const roomId = item.message.room_id;
    const content: Content = { ...(item.content ?? { v: 1 }), v: 1, body };
    const sealed = await this.seal(roomId, content);
    const message = await this.api.messages.edit(roomId, item.message.id, sealed.ciphertext);
    const shown = await this.show(message, { plaintext: sealed.plaintext });
    this.timeline(roomId).update((list) => mergeBySeq(list, [shown]));
  }

  async remove(item: ShownMessage, scope: "everyone" | "me"): Promise<void> {
    await this.api.messages.delete(item.message.room_id, item.message.id, scope);
    const tombstone = { message: { ...item.message, deleted: true, ciphertext: null }, content: null };
    this.timeline(item.message.room_id).update((list) =>
      scope === "me" ? list.filter((m) => m.message.id !== item.message.id) : mergeBySeq(list, [tombstone]),
    );
  }

  forward(item: ShownMessage, toRoomId: string): Promise<Message> {
    if (!item.content) throw new Error("only a readable message can be forwarded");
    const { reply: _reply, ...rest } = item.content;
    const content: Content = { ...rest, forwarded_from_sender: item.message.sender_id };
    return this.sendContent(toRoomId, content, {
      forwarded_from: { room_id: item.message.room_id, message_id: item.message.id },
      file_ids: item.message.file_ids.length ? item.message.file_ids : undefined,
    });
  }

  setTyping(roomId: string, typing: boolean): void {
    this.socket.send({ type: "typing", room_id: roomId, typing });
  }

  async report(item: ShownMessage, reason: string) {
    const franking =
      item.plaintext && item.frankingKey
        ? { plaintext: toBase64(item.plaintext), franking_key: toBase64(item.frankingKey) }
        : undefined;
    return this.api.reports.create({
      target: { kind: "message", id: item.message.id, room_id: item.message.room_id },
      reason,
      franking,
    });
  }

  async createRoom(kind: "direct" | "group", members: string[], name?: string): Promise<Room> {
    const room = await this.api.rooms.create(kind, members, name);
    this.details.set(room.id, room);
    await this.refreshRooms();
    return room;
  }

  // ---- live ----

  private frame(frame: ServerFrame): void {
    switch (frame.type) {
      case "typing":
        if (frame.user_id !== this.me.userId) this.people.setTyping(frame.room_id, frame.user_id, frame.typing);
        break;
      case "presence":
        this.people.setPresence(frame.user_id, { online: frame.online, last_seen: frame.last_seen });
        break;
      case "signal":
        for (const listener of this.signalListeners) listener(frame);
        break;
      default:
        break;
    }
  }

  /** One event of the device's queue (live or caught up after a reconnect). */
  async apply(event: ChatEvent): Promise<void> {
    switch (event.type) {
      case "to_device": {
        const outcome = await this.e2ee.handleToDevice(event);
        if (outcome.kind === "sender_key" && outcome.roomId) await this.unlock(outcome.roomId);
        break;
      }
      case "device.added":
      case "device.removed":
        await this.e2ee.onDeviceChange(event.user_id);
        break;
      case "member.left":
        if (event.user_id === this.me.userId) await this.e2ee.forgetRoom(event.room_id);
      // falls through
      case "member.joined":
      case "member.role_changed":
        await this.e2ee.onMembershipChange(event.room_id);
        this.details.delete(event.room_id);
        await this.refreshRooms(event.type === "member.joined" ? event.room_id : undefined).catch(() => undefined);
        break;
      case "room.created":
      case "room.updated":
        this.details.delete(event.room_id);
        await this.refreshRooms(event.room_id).catch(() => undefined);
        break;
      case "message.sent":
      case "message.edited":
      case "message.deleted":
        await this.applyMessage(event);
        break;
      case "message.hidden":
        this.timeline(event.room_id).update((list) => list.filter((m) => m.message.id !== event.message_id));
        break;
      case "receipt.updated":
        this.receipts.update((all) => ({
          ...all,
          [event.room_id]: applyReceipt(all[event.room_id] ?? {}, event.user_id, event.kind, event.up_to_seq),
        }));
        break;
      default:
        break;
    }
    for (const listener of this.eventListeners) listener(event);
  }

  private async applyMessage(event: Extract<ChatEvent, { type: "message.sent" | "message.edited" | "message.deleted" }>): Promise<void> {
    const { type: _type, at: _at, ...message } = event as Message & { type: string; at: string };
    const roomId = message.room_id;
    const timeline = this.timeline(roomId);
    const existing = timeline.get().find((m) => m.message.seq === message.seq);
    // My own send is already shown (from its answer); only its edits change it.
    if (event.type === "message.sent" && existing && existing.problem === undefined) return;
    const shown = await this.show(message);
    if (this.timelines.has(roomId) && (timeline.get().length > 0 || this.activeRoom.get() === roomId)) {
      timeline.update((list) => mergeBySeq(list, [shown]));
    }
    if (event.type !== "message.sent") return;
    const known = this.rooms.get().some((r) => r.id === roomId);
    if (!known) await this.refreshRooms(roomId).catch(() => undefined);
    const active = this.activeRoom.get() === roomId && document.visibilityState !== "hidden";
    this.rooms.update((rooms) => {
      const room = rooms.find((r) => r.id === roomId);
      if (!room) return rooms;
      const mine = message.sender_id === this.me.userId;
      const updated = { ...room, last_seq: Math.max(room.last_seq, message.seq), unread: active || mine ? 0 : (room.unread ?? 0) + 1 };
      return [updated, ...rooms.filter((r) => r.id !== roomId)];
    });
    if (message.sender_id !== this.me.userId) {
      const kind = active ? "read" : "delivered";
      await this.api.messages.receipt(roomId, message.seq, kind).catch(() => undefined);
    }
  }
}
