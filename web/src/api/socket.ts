// The WebSocket: ticket, connect after the last acknowledged cursor, process
// events one at a time in order, acknowledge what was processed, ping, and
// reconnect with backoff (catch-up is the server's replay after our cursor;
// replays of what we already processed are dropped by cursor).
import { Backoff } from "./backoff";
import { CursorTracker } from "./cursor";
import { ApiError } from "./errors";
import type { ChatEvent, ClientFrame, Cursor, ServerFrame } from "./types";

export type SocketStatus = "connecting" | "live" | "offline" | "stopped";

export interface SocketOptions {
  /** Base URL of the server ("" = this page's origin). */
  baseUrl: string;
  ticket: () => Promise<string>;
  onEvent: (event: ChatEvent, cursor: Cursor) => Promise<void> | void;
  onFrame?: (frame: ServerFrame) => void;
  onStatus?: (status: SocketStatus) => void;
  WebSocketImpl?: typeof WebSocket;
  pingMs?: number;
  ackDelayMs?: number;
}

export function socketUrl(baseUrl: string, ticket: string, since: Cursor | null, origin?: string): string {
  const url = new URL("/v1/ws", baseUrl || origin || globalThis.location?.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("ticket", ticket);
  if (since !== null) url.searchParams.set("since", since);
  return url.toString();
}

export class RealtimeSocket {
  readonly cursors = new CursorTracker();
  private socket: WebSocket | null = null;
  private readonly backoff = new Backoff();
  private stopped = false;
  private queue: Promise<void> = Promise.resolve();
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private statusValue: SocketStatus = "offline";

  constructor(private readonly options: SocketOptions) {}

  get status(): SocketStatus {
    return this.statusValue;
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.clearTimers();
    this.socket?.close(1000);
    this.socket = null;
    this.setStatus("stopped");
  }

  /** Sends a frame when connected; false when it could not be sent. */
  send(frame: ClientFrame): boolean {
    if (this.socket?.readyState !== 1) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Drops the connection as a network failure would (tests, "reconnect now"). */
  drop(): void {
    this.socket?.close(4000);
  }

  private setStatus(status: SocketStatus): void {
    this.statusValue = status;
    this.options.onStatus?.(status);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.setStatus("connecting");
    let ticket: string;
    try {
      ticket = await this.options.ticket();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        this.stop();
        return;
      }
      this.scheduleReconnect(error instanceof ApiError ? error.retryAfter : null);
      return;
    }
    if (this.stopped) return;
    const Impl = this.options.WebSocketImpl ?? WebSocket;
    const socket = new Impl(socketUrl(this.options.baseUrl, ticket, this.cursors.acked));
    this.socket = socket;
    socket.onmessage = (message) => this.receive(String(message.data));
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.clearTimers();
      if (!this.stopped) this.scheduleReconnect(null);
    };
    socket.onopen = () => {
      this.pingTimer = setInterval(() => this.send({ type: "ping" }), this.options.pingMs ?? 20_000);
    };
  }

  private scheduleReconnect(retryAfter: number | null): void {
    this.setStatus("offline");
    this.reconnectTimer = setTimeout(() => void this.connect(), this.backoff.next(retryAfter));
  }

  private clearTimers(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.pingTimer = null;
    this.ackTimer = null;
  }

  private receive(text: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      return;
    }
    switch (frame.type) {
      case "event":
        this.enqueue(frame.cursor, frame.event);
        break;
      case "ready":
        this.queue = this.queue.then(() => {
          this.backoff.reset();
          this.setStatus("live");
        });
        break;
      case "acked":
        this.cursors.confirm(frame.cursor);
        break;
      default:
        this.options.onFrame?.(frame);
    }
  }

  private enqueue(cursor: Cursor, event: ChatEvent): void {
    this.queue = this.queue.then(async () => {
      if (!this.cursors.accept(cursor)) return;
      try {
        await this.options.onEvent(event, cursor);
      } catch {
        // A bad event must not stall the queue behind it; it stays acknowledged
        // (the server would only replay it to fail again).
      }
      this.scheduleAck();
    });
  }

  private scheduleAck(): void {
    if (this.ackTimer) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      const cursor = this.cursors.pending();
      if (cursor !== null) this.send({ type: "ack", cursor });
    }, this.options.ackDelayMs ?? 200);
  }
}
