-- Delivery: the `delivery` projection's own state (who receives a room's
-- events), and each user's acknowledged position in their delivery queue.

-- Projection `delivery`: members, blocks and message metadata as of the last
-- applied event, kept by the projection itself so that its fan-out is decided
-- from the same ordered stream as everything else (and a replay decides the same).
CREATE TABLE delivery_members (
    room_id uuid NOT NULL,
    user_id uuid NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX delivery_members_by_user ON delivery_members (user_id);

CREATE TABLE delivery_blocks (
    user_id    uuid NOT NULL,
    blocked_id uuid NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
);

-- The API Message without ciphertext, so that edits and deletions can be
-- delivered as whole messages.
CREATE TABLE delivery_messages (
    room_id    uuid  NOT NULL,
    message_id uuid  NOT NULL,
    message    jsonb NOT NULL,
    PRIMARY KEY (room_id, message_id)
);

-- Not a read model (a rebuild keeps it): the CHAT_DELIVERY stream sequence up
-- to which each user has acknowledged their events. It only grows.
CREATE TABLE delivery_cursors (
    user_id    uuid        PRIMARY KEY,
    cursor     bigint      NOT NULL CHECK (cursor >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
