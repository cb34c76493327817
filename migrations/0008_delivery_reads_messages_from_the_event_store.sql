-- The delivery projection no longer keeps a copy of every message's metadata:
-- an edit or deletion is delivered with the message as the event store holds
-- it, so the store's message index now covers edits too.
DROP TABLE delivery_messages;

DROP INDEX events_room_message;
CREATE INDEX events_room_message ON events (aggregate_id, (payload -> event_type ->> 'message_id'))
    WHERE aggregate_type = 'room'
      AND event_type IN ('MessageSent', 'MessageEdited', 'MessageDeleted', 'MessageTakenDown');
