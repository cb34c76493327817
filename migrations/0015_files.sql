-- Files: the `files` read model (projection `files`), the delivery
-- projection's file-to-room map, the sweeper's record of files whose blobs
-- are gone, and the index the per-user stored-bytes read uses.

CREATE TABLE files (
    file_id      uuid PRIMARY KEY,
    room_id      uuid        NOT NULL,
    uploader_id  uuid        NOT NULL,
    size         bigint      NOT NULL,
    chunk_size   bigint      NOT NULL,
    chunk_count  integer     NOT NULL,
    content_type text        NOT NULL,
    -- uploading, completed, deleted, expired, taken_down
    status       text        NOT NULL,
    expires_at   timestamptz,
    created_at   timestamptz NOT NULL,
    completed_at timestamptz,
    ended_at     timestamptz
);
CREATE INDEX files_by_room ON files (room_id);
CREATE INDEX files_by_uploader ON files (uploader_id);
CREATE INDEX files_expiring ON files (expires_at) WHERE status IN ('uploading', 'completed');

CREATE TABLE file_chunks (
    file_id     uuid        NOT NULL,
    chunk_index integer     NOT NULL,
    size        bigint      NOT NULL,
    -- base64; NULL for chunks stored before digests
    sha256      text,
    stored_at   timestamptz NOT NULL,
    PRIMARY KEY (file_id, chunk_index)
);

-- Owned by the delivery projection: which room a file event goes to.
CREATE TABLE delivery_files (
    file_id uuid PRIMARY KEY,
    room_id uuid NOT NULL
);

-- Not a read model (a replay keeps it): the files whose blobs were removed.
CREATE TABLE file_sweeps (
    file_id  uuid PRIMARY KEY,
    swept_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX events_file_uploader ON events ((payload -> 'FileRegistered' ->> 'uploader'))
    WHERE aggregate_type = 'file' AND event_type = 'FileRegistered';
