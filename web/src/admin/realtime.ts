// The admin page's WebSocket: a ticket from POST /v1/ws/ticket, then
// /v1/ws?ticket=; `report.created` frames are handed to the page so the
// queue refreshes at once. Reconnects with a growing pause while the page is
// logged in. Event frames of the admin's own inbox are not the page's
// business: they are acknowledged unread, so this device's queue does not
// grow and is not replayed at every reconnect (cursors are per device: the
// admin's other devices still get everything).

import type { AdminApi, Report } from "./api";

export type FeedState = "connecting" | "live" | "offline";

export interface FeedHandlers {
  onReport(report: Report): void;
  onState(state: FeedState): void;
}

const PING_EVERY_MS = 25_000;
const MAX_PAUSE_MS = 30_000;

/** What the page does with a server frame. */
export type Frame = { kind: "report"; report: Report } | { kind: "event"; cursor: string } | null;

/** A server frame as the page cares about it: a new report, an event to acknowledge, or nothing. */
export function frameOf(data: unknown): Frame {
  if (typeof data !== "string") return null;
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    return null;
  }
  const typed = frame as { type?: unknown; report?: unknown; cursor?: unknown } | null;
  if (typed?.type === "report.created" && typeof typed.report === "object" && typed.report !== null) {
    return { kind: "report", report: typed.report as Report };
  }
  if (typed?.type === "event" && typeof typed.cursor === "string") return { kind: "event", cursor: typed.cursor };
  return null;
}

export class AdminFeed {
  private socket: WebSocket | null = null;
  private stopped = false;
  private pause = 1000;
  private ping: ReturnType<typeof setInterval> | null = null;
  private retry: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly api: AdminApi,
    private readonly handlers: FeedHandlers,
    private readonly origin: string,
  ) {}

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.ping) clearInterval(this.ping);
    this.socket?.close();
    this.socket = null;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.handlers.onState("connecting");
    let ticket: string;
    try {
      ticket = await this.api.wsTicket();
    } catch {
      this.later();
      return;
    }
    if (this.stopped) return;
    const socket = new WebSocket(this.api.wsUrl(ticket, this.origin));
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.pause = 1000;
      this.handlers.onState("live");
      this.ping = setInterval(() => socket.send(JSON.stringify({ type: "ping" })), PING_EVERY_MS);
    });
    socket.addEventListener("message", (event) => {
      const frame = frameOf(event.data);
      if (frame?.kind === "report") this.handlers.onReport(frame.report);
      if (frame?.kind === "event") socket.send(JSON.stringify({ type: "ack", cursor: frame.cursor }));
    });
    socket.addEventListener("close", () => {
      if (this.ping) clearInterval(this.ping);
      this.ping = null;
      if (this.socket === socket) this.socket = null;
      this.later();
    });
  }

  private later(): void {
    if (this.stopped) return;
    this.handlers.onState("offline");
    this.retry = setTimeout(() => void this.connect(), this.pause);
    this.pause = Math.min(this.pause * 2, MAX_PAUSE_MS);
  }
}
