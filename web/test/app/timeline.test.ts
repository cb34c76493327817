import { describe, expect, it } from "vitest";
import type { Message } from "../../src/api/types";
import { applyReceipt, receiptState } from "../../src/app/chat/receipts";
import { mergeBySeq, newestSeq, oldestSeq, type ShownMessage } from "../../src/app/chat/timeline";

function shown(seq: number, body = `m${seq}`): ShownMessage {
  const message = { id: `id${seq}`, room_id: "r", seq, sender_id: "u", client_msg_id: `c${seq}`, content_type: "x", file_ids: [], sent_at: "", deleted: false } as Message;
  return { message, content: { v: 1, body } };
}

describe("timeline", () => {
  it("merges pages and events by seq, replacing and never doubling", () => {
    const page = [shown(3), shown(4)];
    const older = [shown(1), shown(2)];
    const merged = mergeBySeq(mergeBySeq(page, older), [shown(4, "edited"), shown(5)]);
    expect(merged.map((m) => m.message.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(merged[3]!.content?.body).toBe("edited");
    expect(oldestSeq(merged)).toBe(1);
    expect(newestSeq(merged)).toBe(5);
    expect(oldestSeq([])).toBeNull();
    expect(newestSeq([])).toBe(0);
  });
});

describe("receipts", () => {
  it("only move forward, and read implies delivered", () => {
    let receipts = applyReceipt({}, "bob", "read", 5);
    receipts = applyReceipt(receipts, "bob", "delivered", 3);
    expect(receipts["bob"]).toEqual({ delivered: 5, read: 5 });
  });

  it("tell the sender what others did", () => {
    const receipts = applyReceipt(applyReceipt({}, "bob", "delivered", 7), "carol", "read", 4);
    expect(receiptState(receipts, "alice", 3)).toBe("read");
    expect(receiptState(receipts, "alice", 6)).toBe("delivered");
    expect(receiptState(receipts, "alice", 9)).toBe("sent");
    expect(receiptState(applyReceipt({}, "alice", "read", 9), "alice", 9)).toBe("sent");
  });
});
