-- A send retried after its client_msg_id has left the room's in-memory
-- idempotency window must get the original message, not a second one. The
-- event store keeps a key per event that must not repeat in its aggregate
-- (for a room's sends, the sender and client_msg_id), written by the appender
-- beside the payload, and refuses a second copy in the insert itself: a send
-- pays no extra query, and the index reads no JSON (an expression index over
-- the payload would parse it again at every insert).
--
-- Rows stored before this migration have no key: the column is added without
-- a default (no rewrite) and the index holds none of them, so an upgrade is
-- quick and an old duplicate (a retry that slipped past the old window) cannot
-- fail it.
ALTER TABLE events ADD COLUMN unique_key text;
CREATE UNIQUE INDEX events_unique_key ON events (aggregate_type, aggregate_id, unique_key)
    WHERE unique_key IS NOT NULL;
