// One room's loaded messages, in seq order, as shown: events and history
// pages merge into it by seq (a message seen twice is replaced, never doubled).
import type { Message } from "../../api/types";
import type { Content } from "../content";

export interface ShownMessage {
  message: Message;
  /** Decrypted content; null while locked (no key yet) or unreadable. */
  content: Content | null;
  /** Why it is not shown: "locked" until its sender key arrives, "unreadable" for good. */
  problem?: "locked" | "unreadable";
  /** The opening of the franking commitment, kept for a report. */
  plaintext?: Uint8Array;
  frankingKey?: Uint8Array;
}

/** Inserts or replaces by seq; the list stays sorted ascending. */
export function mergeBySeq(list: readonly ShownMessage[], incoming: readonly ShownMessage[]): ShownMessage[] {
  const bySeq = new Map<number, ShownMessage>();
  for (const item of list) bySeq.set(item.message.seq, item);
  for (const item of incoming) bySeq.set(item.message.seq, item);
  return [...bySeq.values()].sort((a, b) => a.message.seq - b.message.seq);
}

/** The lowest loaded seq (for paging back), or null when nothing is loaded. */
export function oldestSeq(list: readonly ShownMessage[]): number | null {
  return list.length === 0 ? null : list[0]!.message.seq;
}

export function newestSeq(list: readonly ShownMessage[]): number {
  return list.length === 0 ? 0 : list[list.length - 1]!.message.seq;
}

export function removeBySeq(list: readonly ShownMessage[], seq: number): ShownMessage[] {
  return list.filter((item) => item.message.seq !== seq);
}
