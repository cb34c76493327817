import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../src/api/errors";
import { RealtimeSocket } from "../../src/api/socket";
import type { ChatEvent } from "../../src/api/types";

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: unknown[] = [];
  onmessage: ((m: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onopen: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  send(text: string) {
    this.sent.push(JSON.parse(text));
  }
  close() {
    this.readyState = 3;
    this.onclose?.();
  }
  frame(frame: unknown) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
}

const event = (n: number) => ({ type: "receipt.updated", room_id: "r", at: "", user_id: "u", kind: "read", up_to_seq: n }) as ChatEvent;

async function settle() {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe("RealtimeSocket", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
  });
  afterEach(() => vi.useRealTimers());

  function socket(ticket = async () => "t") {
    const seen: number[] = [];
    const statuses: string[] = [];
    const rt = new RealtimeSocket({
      baseUrl: "http://h",
      ticket,
      onEvent: (e) => {
        seen.push((e as { up_to_seq: number }).up_to_seq);
      },
      onStatus: (s) => statuses.push(s),
      WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    });
    return { rt, seen, statuses };
  }

  it("processes events in order, acks the last, reconnects after the acked cursor and drops replays", async () => {
    const { rt, seen, statuses } = socket();
    rt.start();
    await settle();
    const first = FakeSocket.all[0]!;
    expect(first.url).toBe("ws://h/v1/ws?ticket=t");
    first.open();
    first.frame({ type: "event", cursor: "1", event: event(1) });
    first.frame({ type: "event", cursor: "2", event: event(2) });
    first.frame({ type: "ready", cursor: "2" });
    await settle();
    expect(statuses.at(-1)).toBe("live");
    await vi.advanceTimersByTimeAsync(250);
    expect(first.sent).toContainEqual({ type: "ack", cursor: "2" });
    first.frame({ type: "acked", cursor: "2" });
    first.frame({ type: "event", cursor: "3", event: event(3) });
    await settle();

    first.close(); // event 3 was seen but its ack never went out
    expect(statuses.at(-1)).toBe("offline");
    await vi.advanceTimersByTimeAsync(1000);
    const second = FakeSocket.all[1]!;
    expect(second.url).toBe("ws://h/v1/ws?ticket=t&since=2");
    second.open();
    second.frame({ type: "event", cursor: "3", event: event(3) }); // replayed
    second.frame({ type: "event", cursor: "4", event: event(4) });
    await settle();
    expect(seen).toEqual([1, 2, 3, 4]);
    rt.stop();
  });

  it("waits longer after each failed attempt", async () => {
    let calls = 0;
    const { rt } = socket(async () => {
      calls++;
      throw new ApiError(503, "dependency_down", "down", {}, 2);
    });
    rt.start();
    await settle();
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1500);
    expect(calls).toBe(1); // Retry-After: 2 s
    await vi.advanceTimersByTimeAsync(600);
    expect(calls).toBe(2);
    rt.stop();
  });

  it("stops when the session is gone", async () => {
    const { rt, statuses } = socket(async () => {
      throw new ApiError(401, "unauthenticated", "no");
    });
    rt.start();
    await settle();
    expect(statuses.at(-1)).toBe("stopped");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(0);
  });
});
