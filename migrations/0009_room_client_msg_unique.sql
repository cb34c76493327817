-- A send retried after its client_msg_id has left the room's in-memory
-- idempotency window must get the original message, not a second one: the
-- event store refuses a second MessageSent of one sender with one
-- client_msg_id in a room (the send then answers with the first). Checked
-- by the insert itself, so a send pays no extra query for it.
CREATE UNIQUE INDEX events_room_client_msg ON events (
        aggregate_id,
        (payload -> 'MessageSent' ->> 'sender_id'),
        (payload -> 'MessageSent' ->> 'client_msg_id'))
    WHERE aggregate_type = 'room' AND event_type = 'MessageSent';
