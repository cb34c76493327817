-- Edit and delete rules need facts about single messages, which the room
-- aggregate does not keep (it must load in bounded time). They are read from
-- the event store itself, so they are never stale; this index keeps that cheap.
CREATE INDEX events_room_message ON events (aggregate_id, (payload -> event_type ->> 'message_id'))
    WHERE aggregate_type = 'room'
      AND event_type IN ('MessageSent', 'MessageDeleted', 'MessageTakenDown');
