-- Projections `moderation` (every report and its decision) and `audit`
-- (every moderation-relevant event). Both are read models: dropped and
-- rebuilt from CHAT_EVENTS by `ciphertalk projections replay`, so no foreign
-- keys and no identity columns (see 0004).

-- Projection `moderation`: one row per report.
CREATE TABLE moderation_reports (
    report_id    uuid PRIMARY KEY,
    -- The report aggregate, `<reporter>_<kind>_<target>`.
    aggregate_id text        NOT NULL UNIQUE,
    reporter_id  uuid        NOT NULL,
    -- message, file, user
    target_kind  text        NOT NULL,
    target_id    uuid        NOT NULL,
    room_id      uuid,
    reason       text        NOT NULL,
    evidence     text,
    verified     boolean,
    -- open, dismissed, actioned
    status       text        NOT NULL,
    created_at   timestamptz NOT NULL,
    resolved_by  uuid,
    resolved_at  timestamptz,
    note         text
);
CREATE INDEX moderation_reports_by_status ON moderation_reports (status, report_id);
CREATE INDEX moderation_reports_by_room ON moderation_reports (room_id, report_id);
CREATE INDEX moderation_reports_by_target ON moderation_reports (target_id);

-- Projection `audit`: one row per moderation-relevant event, keyed by its
-- CHAT_EVENTS sequence (the same in a replay). No route writes it.
CREATE TABLE audit_log (
    stream_seq     bigint PRIMARY KEY,
    at             timestamptz NOT NULL,
    -- A user id, or `system:<process>` (configuration, expiry).
    actor_id       text        NOT NULL,
    action         text        NOT NULL,
    -- The id of what the action concerns: a takedown's is the removed message or file.
    subject        text        NOT NULL,
    room_id        uuid,
    details        jsonb       NOT NULL,
    -- Where the event came from.
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL
);
CREATE INDEX audit_log_by_subject ON audit_log (subject, stream_seq);
CREATE INDEX audit_log_by_room ON audit_log (room_id, stream_seq) WHERE room_id IS NOT NULL;
CREATE INDEX audit_log_by_actor ON audit_log (actor_id, stream_seq);
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE INDEX audit_log_by_aggregate ON audit_log (aggregate_type, aggregate_id);

-- The instance's room states as of a time are read from the event store,
-- one room's membership events at a time.
CREATE INDEX events_room_membership ON events (aggregate_id, recorded_at)
    WHERE aggregate_type = 'room'
      AND event_type IN ('RoomCreated', 'RoomUpdated', 'MemberInvited', 'MemberJoined', 'MemberLeft', 'MemberRoleChanged');

-- Who the instance admins are, read when a new report is pushed to them.
CREATE INDEX events_admin_roles ON events (aggregate_id, sequence)
    WHERE aggregate_type = 'user' AND event_type IN ('AdminGranted', 'AdminRevoked');
