-- One direct room per pair of users. A request claims the pair here (user_a <
-- user_b, so each pair has one spelling) before it creates the room, so
-- concurrent "open a direct room" requests from either side yield one room.
-- Write-side bookkeeping, not a read model: it is not rebuilt from events.
CREATE TABLE direct_rooms (
    user_a     uuid        NOT NULL,
    user_b     uuid        NOT NULL,
    room_id    uuid        NOT NULL UNIQUE,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_a, user_b),
    CHECK (user_a < user_b)
);
