-- A send retried after its client_msg_id has left the room's in-memory
-- idempotency window must get the original message, not a second one: the
-- event store refuses a second MessageSent of one sender with one
-- client_msg_id in a room (the send then answers with the first). Checked
-- by the insert itself, so a send pays no extra query for it.
--
-- A retry that slipped past the old window may already have stored a second
-- send. An upgrade must not fail on it: only then are the rows stored before
-- this migration left out of the index (its name stays the one the code
-- matches; the look-up of the original then reads the room's sends).
DO $$
DECLARE
    exempt text := '';
BEGIN
    IF EXISTS (
        SELECT 1 FROM events
         WHERE aggregate_type = 'room' AND event_type = 'MessageSent'
         GROUP BY aggregate_id, payload -> 'MessageSent' ->> 'sender_id',
                  payload -> 'MessageSent' ->> 'client_msg_id'
        HAVING count(*) > 1)
    THEN
        exempt := format(' AND position > %s', (SELECT max(position) FROM events));
    END IF;
    EXECUTE 'CREATE UNIQUE INDEX events_room_client_msg ON events (
                 aggregate_id,
                 (payload -> ''MessageSent'' ->> ''sender_id''),
                 (payload -> ''MessageSent'' ->> ''client_msg_id''))
             WHERE aggregate_type = ''room'' AND event_type = ''MessageSent''' || exempt;
END
$$;
