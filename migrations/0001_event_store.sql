-- The event store of record: postgres-es's tables, plus what the relay needs.

-- postgres-es `events`, extended with the columns the JetStream relay reads.
-- postgres-es inserts name only its own columns; the extra ones take defaults.
CREATE TABLE events (
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    sequence       bigint NOT NULL CHECK (sequence >= 0),
    event_type     text   NOT NULL,
    event_version  text   NOT NULL,
    payload        json   NOT NULL,
    metadata       json   NOT NULL,
    -- Insertion order across all aggregates. Not commit order on its own: a
    -- transaction that took a lower position may commit after a higher one.
    position       bigint GENERATED ALWAYS AS IDENTITY,
    -- The writing transaction. The relay only reads rows whose transaction is
    -- older than every transaction still running, and orders by (tx_id,
    -- position), so a slow transaction's rows can never be skipped.
    tx_id          xid8   NOT NULL DEFAULT pg_current_xact_id(),
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE INDEX events_log_order ON events (tx_id, position);

-- postgres-es `snapshots` (kept for its repository API; CipherTalk writes its
-- own snapshots below because cqrs-es 0.5's snapshot store double-applies events).
CREATE TABLE snapshots (
    aggregate_type   text   NOT NULL,
    aggregate_id     text   NOT NULL,
    last_sequence    bigint NOT NULL CHECK (last_sequence >= 0),
    current_snapshot bigint NOT NULL CHECK (current_snapshot >= 0),
    payload          json   NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);

-- One snapshot per aggregate: its state after applying events 1..=sequence.
-- A cache: deleting a row only makes the next load replay more events.
CREATE TABLE aggregate_snapshots (
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    sequence       bigint NOT NULL CHECK (sequence > 0),
    state          json   NOT NULL,
    taken_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- How far the relay has published into JetStream, in (tx_id, position) order.
CREATE TABLE relay_cursor (
    name       text   PRIMARY KEY,
    tx         bigint NOT NULL,
    pos        bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
