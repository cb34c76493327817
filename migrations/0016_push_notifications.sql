-- Push notifications.

-- Projection `notifications`: who is in each room, who muted what until
-- when, who turned notifications off, and where each device is woken; kept
-- from the same ordered stream, so a replay decides what is pushed as the
-- live run did.
CREATE TABLE notify_members (
    room_id uuid NOT NULL,
    user_id uuid NOT NULL,
    PRIMARY KEY (room_id, user_id)
);

-- `until` NULL: muted until unmuted.
CREATE TABLE notify_mutes (
    user_id uuid NOT NULL,
    room_id uuid NOT NULL,
    until   timestamptz,
    PRIMARY KEY (user_id, room_id)
);

CREATE TABLE notify_blocks (
    user_id    uuid NOT NULL,
    blocked_id uuid NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
);

-- Users with notifications off (the setting's default is on).
CREATE TABLE notify_quiet_users (
    user_id uuid PRIMARY KEY
);

-- Where each device is woken: the API's `platform` and its target as the
-- PushRegistered event carries it.
CREATE TABLE push_registrations (
    user_id       uuid        NOT NULL,
    device_id     uuid        NOT NULL,
    platform      text        NOT NULL,
    target        jsonb       NOT NULL,
    registered_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, device_id)
);

-- Not a read model (the pusher's record; a rebuild keeps it): each job
-- (`Nats-Msg-Id` of a CHAT_NOTIFY message) whose push to a device is done,
-- written once the provider answered and before the job is acknowledged, so
-- a job redelivered after a restart is not pushed twice. Old rows are swept.
CREATE TABLE push_outcomes (
    job_id    text        NOT NULL,
    device_id uuid        NOT NULL,
    outcome   text        NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, device_id)
);
CREATE INDEX push_outcomes_by_time ON push_outcomes (at);

-- Notifications that failed every attempt: kept for operators, with why
-- (never the target's token or keys).
CREATE TABLE push_dead_letters (
    id         bigserial   PRIMARY KEY,
    user_id    uuid        NOT NULL,
    device_id  uuid        NOT NULL,
    platform   text        NOT NULL,
    room_id    uuid        NOT NULL,
    count      integer     NOT NULL,
    first_seq  bigint      NOT NULL,
    job_ids    text[]      NOT NULL,
    attempts   integer     NOT NULL,
    reason     text        NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
