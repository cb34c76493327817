-- Accounts and authentication. Secrets live only here, never in events:
-- password hashes (Argon2id PHC strings) and SHA-256 hashes of refresh
-- tokens, WebSocket tickets and phone codes. Nothing here stores a usable
-- token or code.

-- How a user signs in: one email or one phone number, mapped to the user id.
-- Emails are stored normalized (lowercase), so uniqueness is case-insensitive.
CREATE TABLE credentials (
    user_id       uuid PRIMARY KEY,
    email         text UNIQUE CHECK (email = lower(email)),
    phone         text UNIQUE,
    password_hash text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((email IS NULL) <> (phone IS NULL))
);

-- A login session: every refresh token it ever had belongs to one family;
-- revoking the family (logout, or a spent token presented again) ends them all.
CREATE TABLE refresh_families (
    family_id  uuid PRIMARY KEY,
    user_id    uuid NOT NULL,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);

CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,
    family_id  uuid NOT NULL REFERENCES refresh_families ON DELETE CASCADE,
    user_id    uuid NOT NULL,
    spent_at   timestamptz,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

-- A phone login in progress: the code's hash, attempts left, expiry.
CREATE TABLE phone_logins (
    session_id         uuid PRIMARY KEY,
    phone              text NOT NULL,
    code_hash          bytea NOT NULL,
    attempts_remaining integer NOT NULL CHECK (attempts_remaining >= 0),
    expires_at         timestamptz NOT NULL,
    consumed_at        timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX phone_logins_expiry ON phone_logins (expires_at);

-- Single-use tickets that let a browser open the WebSocket.
CREATE TABLE ws_tickets (
    ticket_hash bytea PRIMARY KEY,
    user_id     uuid NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX ws_tickets_expiry ON ws_tickets (expires_at);

-- Usernames are unique across users. A claim is taken before the profile
-- command runs and released when it fails, so two users can never both get
-- one (a crash between the two leaves a claim held by its claimer: harmless).
CREATE TABLE username_claims (
    username   text PRIMARY KEY,
    user_id    uuid NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX username_claims_user ON username_claims (user_id);

-- The user directory for prefix search, written after each successful
-- registration or profile change.
CREATE TABLE user_directory (
    user_id        uuid PRIMARY KEY,
    username       text,
    display_name   text NOT NULL,
    sort_name      text NOT NULL,
    bio            text,
    avatar_file_id uuid,
    created_at     timestamptz NOT NULL
);
CREATE INDEX user_directory_username ON user_directory (username text_pattern_ops);
CREATE INDEX user_directory_sort_name ON user_directory (sort_name text_pattern_ops, user_id);

-- Fixed-window rate-limit counters shared by every gateway process. The key
-- is a hash (it may name an email or phone number).
CREATE TABLE rate_limit_windows (
    key          bytea PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL
);
CREATE INDEX rate_limit_windows_start ON rate_limit_windows (window_start);
