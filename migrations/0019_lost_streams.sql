-- The last sequence of a projection's own output stream that its applied
-- events produced (CHAT_DELIVERY for `delivery`; 0 for projections that
-- publish nothing), written in the batch's transaction after JetStream
-- acknowledged the messages. An output stream that ends before it lost
-- messages (its NATS store was lost or restored from an older copy): the
-- projector refuses to publish onto it until `ciphertalk relay rebuild` has
-- published them again at the same sequences.
ALTER TABLE projection_offsets ADD COLUMN output_seq bigint NOT NULL DEFAULT 0 CHECK (output_seq >= 0);

-- Set by `ciphertalk relay rebuild`: CHAT_EVENTS may be refilled from the log
-- up to this stream sequence although the projections have applied beyond
-- where it now ends (otherwise the relay refuses such a short stream).
ALTER TABLE relay_cursor ADD COLUMN refill_through bigint NOT NULL DEFAULT 0 CHECK (refill_through >= 0);
