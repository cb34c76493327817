// Read receipts: per room, the highest seq each member has read (or got).
export type ReceiptKind = "delivered" | "read";

export type RoomReceipts = Record<string, { delivered: number; read: number }>;

export function applyReceipt(receipts: RoomReceipts, userId: string, kind: ReceiptKind, upToSeq: number): RoomReceipts {
  const current = receipts[userId] ?? { delivered: 0, read: 0 };
  const next = { ...current, [kind]: Math.max(current[kind], upToSeq) };
  // Read implies delivered.
  if (kind === "read") next.delivered = Math.max(next.delivered, upToSeq);
  return { ...receipts, [userId]: next };
}

/** Whether someone other than the sender has read (or received) a message. */
export function receiptState(receipts: RoomReceipts, senderId: string, seq: number): "read" | "delivered" | "sent" {
  let state: "read" | "delivered" | "sent" = "sent";
  for (const [userId, receipt] of Object.entries(receipts)) {
    if (userId === senderId) continue;
    if (receipt.read >= seq) return "read";
    if (receipt.delivered >= seq) state = "delivered";
  }
  return state;
}
