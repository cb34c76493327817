-- Read models fed by the projections (projections/), and their bookkeeping.
--
-- Every table below except the two bookkeeping ones belongs to exactly one
-- projection and can be dropped and rebuilt from CHAT_EVENTS. Rebuilds copy a
-- table's shape with `CREATE TABLE ... (LIKE ... INCLUDING ALL)`, so read-model
-- tables use no foreign keys and no identity columns.

-- The CHAT_EVENTS stream sequence each projection has applied, written in the
-- same transaction as the read-model change it stands for.
CREATE TABLE projection_offsets (
    name           text        PRIMARY KEY,
    stream_seq     bigint      NOT NULL DEFAULT 0 CHECK (stream_seq >= 0),
    -- Events applied (not skipped) since the projection began: proof of
    -- exactly-once application in tests and a sanity figure for operators.
    applied_events bigint      NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- The last aggregate sequence each projection has applied per aggregate: what
-- read-your-writes waits for, and a second guard against an event stored twice.
CREATE TABLE projection_progress (
    projection     text   NOT NULL,
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    sequence       bigint NOT NULL,
    PRIMARY KEY (projection, aggregate_type, aggregate_id)
);

-- Projection `rooms`.
CREATE TABLE rooms (
    room_id          uuid        PRIMARY KEY,
    kind             text        NOT NULL,
    name             text,
    description      text,
    photo_file_id    uuid,
    join_rule        text        NOT NULL,
    created_at       timestamptz NOT NULL,
    -- Sequence of the room's latest message (0 before the first).
    last_seq         bigint      NOT NULL DEFAULT 0,
    last_activity_at timestamptz NOT NULL
);

CREATE TABLE room_members (
    room_id    uuid        NOT NULL,
    user_id    uuid        NOT NULL,
    role       text        NOT NULL,
    joined_at  timestamptz NOT NULL,
    -- Messages at or below this are not unread: the read receipt, or the
    -- room's last message when the member joined (history is not "new").
    read_up_to bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_by_user ON room_members (user_id);

-- Who sent each message, enough to count unread messages per member.
CREATE TABLE room_message_senders (
    room_id   uuid   NOT NULL,
    seq       bigint NOT NULL,
    sender_id uuid   NOT NULL,
    PRIMARY KEY (room_id, seq)
);

-- Projection `timeline`.
CREATE TABLE timeline_messages (
    room_id              uuid        NOT NULL,
    seq                  bigint      NOT NULL,
    message_id           uuid        NOT NULL,
    sender_id            uuid        NOT NULL,
    client_msg_id        text        NOT NULL,
    -- NULL once deleted for everyone or taken down (the row stays as a tombstone).
    ciphertext           text,
    content_type         text        NOT NULL,
    reply_to             uuid,
    file_ids             uuid[]      NOT NULL DEFAULT '{}',
    forwarded_room_id    uuid,
    forwarded_message_id uuid,
    sent_at              timestamptz NOT NULL,
    edited_at            timestamptz,
    deleted              boolean     NOT NULL DEFAULT false,
    commitment           text,
    reporting_tag        text,
    franking_key_id      text,
    PRIMARY KEY (room_id, seq)
);
CREATE UNIQUE INDEX timeline_messages_by_id ON timeline_messages (room_id, message_id);

-- Messages a user hid for themselves (delete "for me").
CREATE TABLE timeline_hidden (
    room_id   uuid        NOT NULL,
    seq       bigint      NOT NULL,
    user_id   uuid        NOT NULL,
    hidden_at timestamptz NOT NULL,
    PRIMARY KEY (room_id, user_id, seq)
);

CREATE TABLE timeline_receipts (
    room_id         uuid        NOT NULL,
    user_id         uuid        NOT NULL,
    delivered_up_to bigint      NOT NULL DEFAULT 0,
    read_up_to      bigint      NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (room_id, user_id)
);

-- Projection `contacts` (contact lists, blocks, and the names to sort them by).
CREATE TABLE contact_profiles (
    user_id        uuid PRIMARY KEY,
    display_name   text NOT NULL,
    username       text,
    avatar_file_id uuid
);

CREATE TABLE contacts (
    user_id    uuid        NOT NULL,
    contact_id uuid        NOT NULL,
    added_at   timestamptz NOT NULL,
    PRIMARY KEY (user_id, contact_id)
);

CREATE TABLE blocks (
    user_id    uuid        NOT NULL,
    blocked_id uuid        NOT NULL,
    blocked_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
);
