// Delivery cursors are decimal stream sequences; compare them as integers
// (string comparison puts "10" before "9").
import type { Cursor } from "./types";

export function compareCursors(a: Cursor, b: Cursor): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isCursor(value: unknown): value is Cursor {
  return typeof value === "string" && /^\d+$/.test(value);
}

/**
 * What this device has seen and acknowledged. An event at or below `seen` is
 * a duplicate (a reconnect replays what was not yet acknowledged); `pending`
 * is the highest cursor seen but not yet acknowledged.
 */
export class CursorTracker {
  private seenCursor: Cursor | null;
  private ackedCursor: Cursor | null;

  constructor(acked: Cursor | null = null) {
    this.seenCursor = acked;
    this.ackedCursor = acked;
  }

  get seen(): Cursor | null {
    return this.seenCursor;
  }

  get acked(): Cursor | null {
    return this.ackedCursor;
  }

  /** True when the event is new (and records it); false for a replay. */
  accept(cursor: Cursor): boolean {
    if (this.seenCursor !== null && compareCursors(cursor, this.seenCursor) <= 0) return false;
    this.seenCursor = cursor;
    return true;
  }

  /** The cursor to acknowledge now, or null when everything seen is acknowledged. */
  pending(): Cursor | null {
    if (this.seenCursor === null) return null;
    if (this.ackedCursor !== null && compareCursors(this.seenCursor, this.ackedCursor) <= 0) return null;
    return this.seenCursor;
  }

  /** The server stored an ack; cursors only move forward. */
  confirm(cursor: Cursor): void {
    if (this.ackedCursor === null || compareCursors(cursor, this.ackedCursor) > 0) this.ackedCursor = cursor;
  }
}
