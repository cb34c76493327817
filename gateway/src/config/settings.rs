//! The settings table: each environment variable, its path in the TOML file
//! and its meaning. `ciphertalk --help` and docs/configuration.md print it; the loader
//! reads the environment through it; `ciphertalk config example` writes
//! `ciphertalk.example.toml` from it.

use super::Config;

/// Every setting: environment variable, path in the TOML file, meaning.
pub const SETTINGS: &[(&str, &str, &str)] = &[
    ("CIPHERTALK_LISTEN", "listen", "HTTP listen address (default 127.0.0.1:8080)"),
    ("CIPHERTALK_DATA_DIR", "data_dir", "folder for embedded NATS/Postgres data and blobs (default ./data)"),
    ("DATABASE_URL", "database_url", "Postgres URL; unset = start an embedded Postgres"),
    ("NATS_URL", "nats_url", "NATS URL; unset = start an embedded nats-server"),
    ("CIPHERTALK_LOG_FORMAT", "log_format", "text or json (default text)"),
    ("CIPHERTALK_LOG", "log_filter", "tracing filter (default info)"),
    ("CIPHERTALK_DATABASE_MAX_CONNECTIONS", "database_max_connections", "Postgres pool size (default 32)"),
    (
        "CIPHERTALK_DATABASE_ACQUIRE_TIMEOUT_MS",
        "database_acquire_timeout_ms",
        "longest wait for a pooled connection; with Postgres down requests answer 503 within it (default 800)",
    ),
    ("CIPHERTALK_STREAMS_REPLICAS", "streams.replicas", "JetStream replicas (1 local, 3 in a cluster)"),
    (
        "CIPHERTALK_STREAMS_EVENTS_MAX_AGE_SECS",
        "streams.events_max_age_secs",
        "CHAT_EVENTS retention, 0 = forever",
    ),
    (
        "CIPHERTALK_STREAMS_DUPLICATE_WINDOW_SECS",
        "streams.duplicate_window_secs",
        "Nats-Msg-Id dedupe window (>= 120)",
    ),
    (
        "CIPHERTALK_STREAMS_DELIVERY_MAX_AGE_SECS",
        "streams.delivery_max_age_secs",
        "CHAT_DELIVERY retention (default 30 days)",
    ),
    (
        "CIPHERTALK_STREAMS_NOTIFY_MAX_AGE_SECS",
        "streams.notify_max_age_secs",
        "CHAT_NOTIFY retention (default 1 day)",
    ),
    (
        "CIPHERTALK_STREAMS_PRESENCE_MAX_AGE_SECS",
        "streams.presence_max_age_secs",
        "presence bucket max age (default 30 days)",
    ),
    (
        "CIPHERTALK_STREAMS_MAX_CONSUMERS",
        "streams.max_consumers",
        "consumers per stream; one per WebSocket on CHAT_DELIVERY (default 100000)",
    ),
    ("CIPHERTALK_NATS_SERVER", "embedded.nats_server", "nats-server binary for embedded mode"),
    (
        "CIPHERTALK_POSTGRES_BIN_DIR",
        "embedded.postgres_bin_dir",
        "folder with postgres and initdb for embedded mode",
    ),
    ("CIPHERTALK_EMBEDDED_NATS_PORT", "embedded.nats_port", "embedded nats-server port (0 = free port)"),
    ("CIPHERTALK_EMBEDDED_POSTGRES_PORT", "embedded.postgres_port", "embedded Postgres port (0 = free port)"),
    (
        "CIPHERTALK_EMBEDDED_NATS_GOGC",
        "embedded.nats_gogc",
        "GOGC of the embedded nats-server (default 400; 0 = its own, 100)",
    ),
    (
        "CIPHERTALK_SNAPSHOT_EVERY",
        "write.snapshot_every",
        "events between aggregate snapshots (default 1000)",
    ),
    (
        "CIPHERTALK_COMMAND_ATTEMPTS",
        "write.command_attempts",
        "tries of a conflicting command before 409 (default 10)",
    ),
    (
        "CIPHERTALK_AGGREGATE_CACHE",
        "write.aggregate_cache",
        "aggregates kept loaded in memory (default 10000)",
    ),
    (
        "CIPHERTALK_COMMAND_MAX_BATCH",
        "write.max_batch",
        "most commands on one aggregate per group commit (default 64)",
    ),
    ("CIPHERTALK_RELAY_BATCH_SIZE", "relay.batch_size", "events per relay round (default 1000)"),
    ("CIPHERTALK_RELAY_IDLE_POLL_MS", "relay.idle_poll_ms", "relay poll when idle (default 200)"),
    ("CIPHERTALK_PROJECTIONS_RUN", "projections.run", "run the projectors in this process (default true)"),
    (
        "CIPHERTALK_PROJECTIONS_BATCH_SIZE",
        "projections.batch_size",
        "events applied per projection transaction (default 500)",
    ),
    (
        "CIPHERTALK_PROJECTIONS_LINGER_MS",
        "projections.linger_ms",
        "how long a projection batch waits for more events after its first (default 2)",
    ),
    (
        "CIPHERTALK_PROJECTIONS_NOTIFICATIONS_LINGER_MS",
        "projections.notifications_linger_ms",
        "the same for the notifications projection, which is off the path to the recipients' devices: a push waits as long (default 20)",
    ),
    (
        "CIPHERTALK_READ_YOUR_WRITES_MS",
        "projections.read_your_writes_ms",
        "longest wait for the read models: of a room read, of a write (other than a send), of a send held back by the backlog (default 2000)",
    ),
    (
        "CIPHERTALK_PROJECTIONS_MAX_BACKLOG_EVENTS",
        "projections.max_backlog_events",
        "sends wait while a projection trails the stream by more events than this (default 2000, 0 = never)",
    ),
    (
        "CIPHERTALK_PROJECTIONS_DELIVERY_MEMORY",
        "projections.delivery_memory",
        "rooms (and senders' blockers) the delivery projection keeps in memory; a batch's own are never dropped (default 100000)",
    ),
    (
        "CIPHERTALK_HTTP_MAX_BODY_BYTES",
        "http.max_body_bytes",
        "largest accepted request body (default 1 MiB)",
    ),
    (
        "CIPHERTALK_HTTP_REQUEST_TIMEOUT_SECS",
        "http.request_timeout_secs",
        "per-request timeout (default 30): 408 while the body is still arriving, else 503",
    ),
    (
        "CIPHERTALK_JWT_SECRET",
        "auth.jwt_secret",
        "HS256 access-token key (>= 32 bytes); unset = generated into <data_dir>/jwt-secret",
    ),
    ("CIPHERTALK_ACCESS_TOKEN_TTL_SECS", "auth.access_token_ttl_secs", "access token lifetime (default 900)"),
    (
        "CIPHERTALK_REFRESH_TOKEN_TTL_SECS",
        "auth.refresh_token_ttl_secs",
        "refresh token lifetime, renewed on each use (default 30 days)",
    ),
    ("CIPHERTALK_ADMINS", "auth.admins", "comma-separated emails of instance admins"),
    ("CIPHERTALK_PHONE_CODE_TTL_SECS", "auth.phone_code_ttl_secs", "phone login code lifetime (default 300)"),
    ("CIPHERTALK_PHONE_CODE_ATTEMPTS", "auth.phone_code_attempts", "tries per phone login code (default 3)"),
    ("CIPHERTALK_WS_TICKET_TTL_SECS", "auth.ws_ticket_ttl_secs", "WebSocket ticket lifetime (default 30)"),
    (
        "CIPHERTALK_MAX_CONCURRENT_HASHES",
        "auth.max_concurrent_hashes",
        "password hashes computed at once (default 4)",
    ),
    (
        "CIPHERTALK_AUTH_STANDING_CACHE_MS",
        "auth.standing_cache_ms",
        "at most how long a request trusts the cached user (device kept, suspension, role) without a query (each user a share of it from half to all, fixed by their id, so that users signed in together are not read again together); another process's changes end the trust as soon as their event reaches this gateway over NATS, and are seen within it when they do not (default 10000, 0 = every request)",
    ),
    (
        "CIPHERTALK_SMS",
        "sms.mode",
        "dev (code in the server log, marked DEV SMS), webhook or off; unset = dev when embedded, else off",
    ),
    ("CIPHERTALK_SMS_WEBHOOK_URL", "sms.webhook_url", "URL that receives POST {phone, code, message}"),
    ("CIPHERTALK_SMS_WEBHOOK_TIMEOUT_SECS", "sms.webhook_timeout_secs", "SMS webhook timeout (default 10)"),
    (
        "CIPHERTALK_PREKEY_POOL_LIMIT",
        "keys.one_time_pool_limit",
        "one-time prekeys a user may keep uploaded (default 1000)",
    ),
    (
        "CIPHERTALK_DEVICES_PER_USER",
        "keys.devices_per_user",
        "devices a user may have; a login past it gets 409 device_limit_reached (default 10)",
    ),
    (
        "CIPHERTALK_TO_DEVICE_MAX_MESSAGES",
        "keys.to_device_max_messages",
        "messages per to-device batch; more is 413 too_large (default 500)",
    ),
    (
        "CIPHERTALK_TO_DEVICE_MAX_BYTES",
        "keys.to_device_max_bytes",
        "decoded ciphertext bytes per to-device batch, all its messages together; more is 413 too_large (default 524288)",
    ),
    ("CIPHERTALK_RATE_LIMITS", "rate_limits.mode", "on or off (default on)"),
    ("CIPHERTALK_RATE_LIMIT_WINDOW_SECS", "rate_limits.window_secs", "rate-limit window (default 60)"),
    ("CIPHERTALK_RATE_LIMIT_REGISTER_PER_IP", "rate_limits.register_per_ip", "per window (default 10)"),
    (
        "CIPHERTALK_RATE_LIMIT_REGISTER_PER_ACCOUNT",
        "rate_limits.register_per_account",
        "per email per window (default 5)",
    ),
    ("CIPHERTALK_RATE_LIMIT_LOGIN_PER_IP", "rate_limits.login_per_ip", "per window (default 30)"),
    (
        "CIPHERTALK_RATE_LIMIT_LOGIN_PER_ACCOUNT",
        "rate_limits.login_per_account",
        "per email per window (default 10)",
    ),
    ("CIPHERTALK_RATE_LIMIT_REFRESH_PER_IP", "rate_limits.refresh_per_ip", "per window (default 120)"),
    (
        "CIPHERTALK_RATE_LIMIT_REFRESH_PER_ACCOUNT",
        "rate_limits.refresh_per_account",
        "per token family per window (default 30)",
    ),
    ("CIPHERTALK_RATE_LIMIT_PHONE_START_PER_IP", "rate_limits.phone_start_per_ip", "per window (default 10)"),
    (
        "CIPHERTALK_RATE_LIMIT_PHONE_START_PER_ACCOUNT",
        "rate_limits.phone_start_per_account",
        "per phone number per window (default 3)",
    ),
    (
        "CIPHERTALK_RATE_LIMIT_PHONE_VERIFY_PER_IP",
        "rate_limits.phone_verify_per_ip",
        "per window (default 30)",
    ),
    (
        "CIPHERTALK_RATE_LIMIT_PHONE_VERIFY_PER_ACCOUNT",
        "rate_limits.phone_verify_per_account",
        "per phone number per window (default 10)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_SEND_PER_USER",
        "write_limits.send_per_user",
        "message sends per user per minute (default 600, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_SEND_PER_IP",
        "write_limits.send_per_ip",
        "message sends per client IP per minute (default 6000, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_EDIT_PER_USER",
        "write_limits.edit_per_user",
        "message edits and deletions per user per minute (default 120, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_EDIT_PER_IP",
        "write_limits.edit_per_ip",
        "message edits and deletions per client IP per minute (default 1200, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_ROOM_CREATE_PER_USER",
        "write_limits.room_create_per_user",
        "rooms created per user per minute (default 30, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_ROOM_CREATE_PER_IP",
        "write_limits.room_create_per_ip",
        "rooms created per client IP per minute (default 300, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_MEMBERSHIP_PER_USER",
        "write_limits.membership_per_user",
        "joins, leaves, member and room changes per user per minute (default 120, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_MEMBERSHIP_PER_IP",
        "write_limits.membership_per_ip",
        "joins, leaves, member and room changes per client IP per minute (default 1200, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_RECEIPT_PER_USER",
        "write_limits.receipt_per_user",
        "read receipts per user per minute (default 600, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_RECEIPT_PER_IP",
        "write_limits.receipt_per_ip",
        "read receipts per client IP per minute (default 6000, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_WRITE_PER_USER",
        "write_limits.write_per_user",
        "other writes (profile, settings, contacts, blocks, keys, inbox acks, logout) per user per minute (default 120, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_WRITE_PER_IP",
        "write_limits.write_per_ip",
        "other writes (profile, settings, contacts, blocks, keys, inbox acks, logout) per client IP per minute (default 1200, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_TYPING_PER_USER",
        "write_limits.typing_per_user",
        "typing frames per user per minute (default 120, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_TYPING_PER_IP",
        "write_limits.typing_per_ip",
        "typing frames per client IP per minute (default 1200, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_PRESENCE_PER_USER",
        "write_limits.presence_per_user",
        "presence frames per user per minute (default 300, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_PRESENCE_PER_IP",
        "write_limits.presence_per_ip",
        "presence frames per client IP per minute (default 3000, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_SIGNAL_PER_USER",
        "write_limits.signal_per_user",
        "signal frames per user per minute (default 600, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_SIGNAL_PER_IP",
        "write_limits.signal_per_ip",
        "signal frames per client IP per minute (default 6000, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_PLAYBACK_PER_USER",
        "write_limits.playback_per_user",
        "co-watch playback frames per user per minute (default 120, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_PLAYBACK_PER_IP",
        "write_limits.playback_per_ip",
        "co-watch playback frames per client IP per minute (default 1200, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_FRAME_PER_USER",
        "write_limits.frame_per_user",
        "other WebSocket frames (acks, pings) per user per minute (default 3000, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_FRAME_PER_IP",
        "write_limits.frame_per_ip",
        "other WebSocket frames (acks, pings) per client IP per minute (default 30000, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_WS_CONNECT_PER_USER",
        "write_limits.ws_connect_per_user",
        "WebSocket connections opened per user per minute (default 60, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_WS_CONNECT_PER_IP",
        "write_limits.ws_connect_per_ip",
        "WebSocket connections opened per client IP per minute (default 600, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_WS_TICKET_PER_USER",
        "write_limits.ws_ticket_per_user",
        "WebSocket tickets issued per user per minute (default 60, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_WS_TICKET_PER_IP",
        "write_limits.ws_ticket_per_ip",
        "WebSocket tickets issued per client IP per minute (default 600, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_PREKEY_CLAIM_PER_USER",
        "write_limits.prekey_claim_per_user",
        "prekey bundles claimed per user per minute (default 120, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_PREKEY_CLAIM_PER_IP",
        "write_limits.prekey_claim_per_ip",
        "prekey bundles claimed per client IP per minute (default 1200, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_PREKEY_CLAIM_PER_TARGET",
        "write_limits.prekey_claim_per_target",
        "prekey bundles claimed from one user per minute (default 300, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_TO_DEVICE_PER_USER",
        "write_limits.to_device_per_user",
        "to-device batches per user per minute (default 120, 0 = no limit)",
    ),
    (
        "CIPHERTALK_WRITE_LIMIT_TO_DEVICE_PER_IP",
        "write_limits.to_device_per_ip",
        "to-device batches per client IP per minute (default 1200, 0 = no limit)",
    ),
    (
        "CIPHERTALK_TRUSTED_PROXIES",
        "write_limits.trusted_proxies",
        "comma-separated proxy addresses/CIDRs whose X-Forwarded-For names the client (default none)",
    ),
    (
        "CIPHERTALK_MAX_CIPHERTEXT_BYTES",
        "messages.max_ciphertext_bytes",
        "largest message ciphertext in decoded bytes (default 65536)",
    ),
    (
        "CIPHERTALK_FRANKING_KEY",
        "messages.franking_key",
        "HMAC key for message reporting tags (>= 32 bytes); unset = generated into <data_dir>/franking-key",
    ),
    (
        "CIPHERTALK_PREVIOUS_FRANKING_KEYS",
        "messages.previous_franking_keys",
        "comma-separated franking keys used before the current one: their tags keep verifying in reports",
    ),
    ("CIPHERTALK_WS_QUEUE_FRAMES", "realtime.queue_frames", "frames queued per WebSocket (default 1024)"),
    (
        "CIPHERTALK_WS_SLOW_CLIENT_MS",
        "realtime.slow_client_ms",
        "a WebSocket whose queue stays full this long is disconnected (default 5000)",
    ),
    (
        "CIPHERTALK_WS_IDLE_TIMEOUT_SECS",
        "realtime.idle_timeout_secs",
        "close a silent WebSocket after this long (default 60)",
    ),
    (
        "CIPHERTALK_PRESENCE_TTL_SECS",
        "realtime.presence_ttl_secs",
        "online marker lifetime after the last heartbeat (default 30)",
    ),
    ("CIPHERTALK_WS_MAX_FRAME_BYTES", "realtime.max_frame_bytes", "largest client frame (default 65536)"),
    (
        "CIPHERTALK_HTTP_MAX_REQUEST_ID_BYTES",
        "http.max_request_id_bytes",
        "a client X-Request-Id longer than this or not visible ASCII is replaced by a fresh one (default 64)",
    ),
    (
        "CIPHERTALK_MAX_EVENT_BYTES",
        "events.max_event_bytes",
        "most bytes one event takes on the wire, at most NATS's max_payload; larger commands get 413 (default 983040)",
    ),
    (
        "CIPHERTALK_STALL_ROUNDS",
        "events.stall_rounds",
        "failed rounds at one position before the relay or a projector is reported stalled (default 10)",
    ),
    (
        "CIPHERTALK_ROOM_MAX_MEMBERS",
        "rooms.max_members",
        "most members of a room, creator included (default 10000)",
    ),
    (
        "CIPHERTALK_RELAY_HELD_BACK_ALARM_SECS",
        "relay.held_back_alarm_secs",
        "held back this long by an older transaction, the relay logs its holder and shows on /health (default 10)",
    ),
    (
        "CIPHERTALK_EMBEDDED_NATS_MAX_PAYLOAD",
        "embedded.nats_max_payload",
        "max_payload of the embedded nats-server (default 1048576)",
    ),
    (
        "CIPHERTALK_EMBEDDED_POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT_SECS",
        "embedded.postgres_idle_in_transaction_timeout_secs",
        "idle_in_transaction_session_timeout of the embedded Postgres (default 60, 0 = off)",
    ),
    (
        "CIPHERTALK_WS_QUEUE_BYTES",
        "realtime.queue_bytes",
        "bytes of frames queued per WebSocket before it counts as slow (default 4 MiB)",
    ),
    (
        "CIPHERTALK_WS_MAX_CONNECTIONS_PER_USER",
        "realtime.max_connections_per_user",
        "open WebSockets of one user on one gateway; more are refused 429 (default 32)",
    ),
    (
        "CIPHERTALK_CORS_ALLOWED_ORIGINS",
        "cors.allowed_origins",
        "comma-separated origins whose browser pages may call the API (default none)",
    ),
    (
        "CIPHERTALK_CORS_MAX_AGE_SECS",
        "cors.max_age_secs",
        "how long a browser caches a preflight (default 600)",
    ),
    (
        "CIPHERTALK_FILES_BACKEND",
        "files.backend",
        "where file chunks are stored: local (default local, under <data_dir>/files) or s3 (the CIPHERTALK_FILES_S3_* bucket)",
    ),
    (
        "CIPHERTALK_FILES_S3_UPLOADS",
        "files.s3_uploads",
        "how chunks reach the s3 backend: gateway (default gateway: PUT to the gateway, checked and streamed on) or presigned (PUT to the bucket, bound to each declared chunk_sha256, then confirmed)",
    ),
    (
        "CIPHERTALK_FILES_MAX_FILE_BYTES",
        "files.max_file_bytes",
        "largest file; larger uploads get 413 (default 2048 MiB)",
    ),
    ("CIPHERTALK_FILES_MAX_CHUNK_BYTES", "files.max_chunk_bytes", "largest chunk of a file (default 16 MiB)"),
    (
        "CIPHERTALK_FILES_MAX_CHUNK_COUNT",
        "files.max_chunk_count",
        "most chunks of one file, at most 65536 (default 65536)",
    ),
    (
        "CIPHERTALK_FILES_MAX_USER_BYTES",
        "files.max_user_bytes",
        "most bytes one user's live files may declare together (default 10240 MiB)",
    ),
    (
        "CIPHERTALK_FILES_MAX_EXPIRY_SECS",
        "files.max_expiry_secs",
        "longest life a file may ask for; unasked, files get it (default 0, 0 = forever)",
    ),
    (
        "CIPHERTALK_FILES_URL_LIFETIME_SECS",
        "files.url_lifetime_secs",
        "how long chunk upload and download URLs stay valid (default 300)",
    ),
    (
        "CIPHERTALK_FILES_SWEEP_EVERY_SECS",
        "files.sweep_every_secs",
        "how often expired files are removed (default 60)",
    ),
    (
        "CIPHERTALK_FILES_URL_KEY",
        "files.url_key",
        "HMAC key of gateway chunk URLs (>= 32 bytes); unset = generated into <data_dir>/files-url-key",
    ),
    ("CIPHERTALK_PUSH_RUN", "push.run", "run the pusher in this process (default true)"),
    (
        "CIPHERTALK_PUSH_PROVIDERS",
        "push.providers",
        "comma-separated push providers: webpush, fcm (needs a service account), webhook (default webpush,fcm,webhook)",
    ),
    (
        "CIPHERTALK_PUSH_ATTEMPTS",
        "push.attempts",
        "attempts at one push before it is dead-lettered (default 5)",
    ),
    (
        "CIPHERTALK_PUSH_BACKOFF_MS",
        "push.backoff_ms",
        "wait before a push's second attempt, doubled after each (default 1000)",
    ),
    (
        "CIPHERTALK_PUSH_MAX_BACKOFF_MS",
        "push.max_backoff_ms",
        "longest wait between attempts at a push (default 60000)",
    ),
    (
        "CIPHERTALK_PUSH_COALESCE_MS",
        "push.coalesce_ms",
        "a room's messages within this window become one push with a count (default 2000)",
    ),
    (
        "CIPHERTALK_PUSH_MAX_AGE_SECS",
        "push.max_age_secs",
        "a push job older than this is dropped (default 3600)",
    ),
    (
        "CIPHERTALK_PUSH_REQUEST_TIMEOUT_MS",
        "push.request_timeout_ms",
        "timeout of each request to a push service or webhook (default 10000)",
    ),
    ("CIPHERTALK_PUSH_CONCURRENCY", "push.concurrency", "pushes in flight at once (default 16)"),
    (
        "CIPHERTALK_PUSH_MAX_TARGET_CHARS",
        "push.max_target_chars",
        "longest push endpoint, webhook URL or FCM token a device may register (default 1024)",
    ),
    (
        "CIPHERTALK_PUSH_ALLOW_HTTP",
        "push.allow_http",
        "accept http:// and loopback or private-address push endpoints and webhooks, not only public https:// (default false)",
    ),
    (
        "CIPHERTALK_PUSH_VAPID_SUBJECT",
        "push.vapid_subject",
        "VAPID contact of the operator, mailto: or https: (default mailto:admin@localhost)",
    ),
    (
        "CIPHERTALK_PUSH_FCM_SERVICE_ACCOUNT",
        "push.fcm_service_account",
        "Google service-account JSON file of the FCM project; unset = no FCM",
    ),
    (
        "CIPHERTALK_PUSH_FCM_BASE_URL",
        "push.fcm_base_url",
        "FCM HTTP v1 base URL (default https://fcm.googleapis.com)",
    ),
    (
        "CIPHERTALK_FILES_S3_ENDPOINT",
        "files.s3.endpoint",
        "s3 backend: the store's URL as the gateway reaches it, e.g. http://garage:3900; unset = AWS S3 by region",
    ),
    (
        "CIPHERTALK_FILES_S3_PUBLIC_ENDPOINT",
        "files.s3.public_endpoint",
        "s3 backend: the store's URL as clients reach it (presigned download URLs name it); unset = the endpoint",
    ),
    ("CIPHERTALK_FILES_S3_BUCKET", "files.s3.bucket", "s3 backend: the bucket holding file chunks"),
    (
        "CIPHERTALK_FILES_S3_REGION",
        "files.s3.region",
        "s3 backend: the region requests are signed for (Garage: garage)",
    ),
    (
        "CIPHERTALK_FILES_S3_ACCESS_KEY_ID",
        "files.s3.access_key_id",
        "s3 backend: access key id (read and write on the bucket)",
    ),
    ("CIPHERTALK_FILES_S3_SECRET_ACCESS_KEY", "files.s3.secret_access_key", "s3 backend: secret access key"),
    (
        "CIPHERTALK_FILES_S3_PATH_STYLE",
        "files.s3.path_style",
        "s3 backend: endpoint/bucket/key URLs, as Garage and most self-hosted stores want; false = bucket.endpoint/key (true when unset)",
    ),
    (
        "CIPHERTALK_FILES_S3_CONNECT_TIMEOUT_MS",
        "files.s3.timeouts.connect_ms",
        "s3 backend: longest TCP/TLS connect to the store (1000 when unset)",
    ),
    (
        "CIPHERTALK_FILES_S3_READ_TIMEOUT_MS",
        "files.s3.timeouts.read_ms",
        "s3 backend: longest silence of the store within an answer: a hung store fails this soon (2000 when unset)",
    ),
    (
        "CIPHERTALK_FILES_S3_REQUEST_TIMEOUT_SECS",
        "files.s3.timeouts.request_secs",
        "s3 backend: longest request to the store, body included (30 when unset)",
    ),
    (
        "CIPHERTALK_FILES_S3_MAX_RETRIES",
        "files.s3.timeouts.max_retries",
        "s3 backend: retries of a failed store request (2 when unset) ...",
    ),
    (
        "CIPHERTALK_FILES_S3_RETRY_WINDOW_MS",
        "files.s3.timeouts.retry_window_ms",
        "s3 backend: ... none begun this long after the first try (2000 when unset)",
    ),
    (
        "CIPHERTALK_TURN_SECRET",
        "webrtc.turn_secret",
        "coturn's static-auth-secret (>= 16 bytes); unset = no TURN server, GET /v1/webrtc/turn answers 404",
    ),
    (
        "CIPHERTALK_TURN_URLS",
        "webrtc.turn_urls",
        "comma-separated turn:/turns:/stun: URLs handed to clients with TURN credentials (default none)",
    ),
    (
        "CIPHERTALK_TURN_TTL_SECS",
        "webrtc.turn_ttl_secs",
        "how long TURN credentials stay valid (default 86400)",
    ),
    (
        "CIPHERTALK_WEBRTC_MAX_PAYLOAD_BYTES",
        "webrtc.max_payload_bytes",
        "largest call-signal or playback payload, in bytes of JSON; larger get 413 (default 16384)",
    ),
    (
        "CIPHERTALK_WEB_DIR",
        "web.dir",
        "the built web client served at / (default web/dist, from the working directory; missing = / answers 404)",
    ),
];

/// Variables that are not settings but are read elsewhere (scripts, tools).
pub(super) const OTHER_VARIABLES: &[&str] = &["CIPHERTALK_CONFIG", "CIPHERTALK_TOOLS_DIR"];

/// The variable's TOML path, or `None` for a variable that is no setting.
pub(super) fn path_of(variable: &str) -> Option<&'static str> {
    SETTINGS.iter().find(|(var, _, _)| *var == variable).map(|(_, path, _)| *path)
}

/// `ciphertalk.example.toml`: every setting of [`SETTINGS`], grouped by
/// section, with its meaning, its variable and its default from
/// `Config::default()`, commented out (`#key = value`): uncommenting a line
/// changes nothing until its value is edited. A setting with no default
/// (unset means "embedded" or "generated") is described but has no line.
pub fn example_toml() -> String {
    let defaults = match toml::Value::try_from(Config::default()) {
        Ok(toml::Value::Table(table)) => table,
        // The defaults hold no secret and only TOML-representable values;
        // a test loads the result back, so this arm is never taken.
        _ => toml::Table::new(),
    };
    let mut out = String::from(
        "# CipherTalk configuration: every setting, at its default, commented out.\n\
         # Pass the file with --config or CIPHERTALK_CONFIG; each setting's environment\n\
         # variable overrides it, and flags override both.\n\
         # Generated by `ciphertalk config example`; a test keeps it in step with the code.\n",
    );
    // `files.s3.timeouts.connect_ms` is `connect_ms` of `[files.s3.timeouts]`.
    let section_of = |path: &'static str| path.rsplit_once('.').map_or("", |(section, _)| section);
    let mut sections: Vec<&str> = Vec::new();
    for (_, path, _) in SETTINGS {
        let section = section_of(path);
        if !sections.contains(&section) {
            sections.push(section);
        }
    }
    // Top-level keys must come before the first `[section]`.
    sections.sort_by_key(|section| !section.is_empty());
    for section in sections {
        let table = if section.is_empty() {
            Some(&defaults)
        } else {
            let table = section.split('.').try_fold(&defaults, |table, part| table.get(part)?.as_table());
            // A section absent by default (`[files.s3]`) stays commented out:
            // written empty, it would be set, and incomplete.
            match table {
                Some(_) => out.push_str(&format!("\n[{section}]\n")),
                None => out.push_str(&format!("\n# [{section}]: unset by default\n")),
            }
            table
        };
        for (var, path, meaning) in SETTINGS.iter().filter(|(_, path, _)| section_of(path) == section) {
            let key = path.rsplit_once('.').map_or(*path, |(_, key)| key);
            out.push_str(&format!("\n# {meaning}\n"));
            match table.and_then(|table| table.get(key)) {
                Some(value) => out.push_str(&format!("# Environment: {var}\n#{key} = {value}\n")),
                None => out.push_str(&format!("# Environment: {var}; unset by default\n")),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{SETTINGS, example_toml};
    use crate::config::Config;

    const SETTINGS_DOC: &str = include_str!("../../../docs/configuration.md");
    const EXAMPLE: &str = include_str!("../../../ciphertalk.example.toml");

    /// The committed example is what the code generates, so it cannot drift.
    #[test]
    fn the_example_file_is_generated_from_the_table() {
        assert!(
            EXAMPLE == example_toml(),
            "ciphertalk.example.toml is stale: run `cargo run -p ciphertalk-gateway -- config example > ciphertalk.example.toml`"
        );
    }

    /// Writing a configuration out refuses a secret rather than printing it.
    #[test]
    fn a_set_secret_is_never_written_out() {
        let config = Config {
            database_url: Some(crate::config::Secret::new("postgres://u:pw@db/x")),
            ..Config::default()
        };
        assert!(toml::Value::try_from(config).is_err());
    }

    /// The example names every setting, and loads, as it is and with every
    /// setting line uncommented, into the defaults.
    #[test]
    fn the_example_file_loads_into_the_defaults() {
        let uncommented: String = EXAMPLE
            .lines()
            .map(|line| line.strip_prefix('#').filter(|rest| !rest.starts_with([' ', '#'])).unwrap_or(line))
            .flat_map(|line| [line, "\n"])
            .collect();
        for (var, _, _) in SETTINGS {
            assert!(EXAMPLE.contains(&format!("# Environment: {var}")), "the example lacks {var}");
        }
        let dir = tempfile::tempdir().unwrap();
        let defaults = format!("{:?}", Config::default());
        for (name, text) in [("as committed", EXAMPLE), ("uncommented", uncommented.as_str())] {
            let path = dir.path().join("ciphertalk.toml");
            std::fs::write(&path, text).unwrap();
            let loaded = Config::load_from(Some(&path), []).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(format!("{loaded:?}"), defaults, "the example, {name}");
        }
        // Only these have no default to show: unset they mean embedded,
        // generated, found on PATH or chosen by the embedded mode.
        let unset: Vec<&str> = EXAMPLE
            .lines()
            .filter_map(|line| line.strip_prefix("# Environment: ")?.strip_suffix("; unset by default"))
            .collect();
        assert_eq!(
            unset,
            [
                "DATABASE_URL",
                "NATS_URL",
                "CIPHERTALK_NATS_SERVER",
                "CIPHERTALK_POSTGRES_BIN_DIR",
                "CIPHERTALK_JWT_SECRET",
                "CIPHERTALK_SMS",
                "CIPHERTALK_SMS_WEBHOOK_URL",
                "CIPHERTALK_FRANKING_KEY",
                "CIPHERTALK_PREVIOUS_FRANKING_KEYS",
                "CIPHERTALK_FILES_URL_KEY",
                "CIPHERTALK_PUSH_FCM_SERVICE_ACCOUNT",
                "CIPHERTALK_FILES_S3_ENDPOINT",
                "CIPHERTALK_FILES_S3_PUBLIC_ENDPOINT",
                "CIPHERTALK_FILES_S3_BUCKET",
                "CIPHERTALK_FILES_S3_REGION",
                "CIPHERTALK_FILES_S3_ACCESS_KEY_ID",
                "CIPHERTALK_FILES_S3_SECRET_ACCESS_KEY",
                "CIPHERTALK_FILES_S3_PATH_STYLE",
                "CIPHERTALK_FILES_S3_CONNECT_TIMEOUT_MS",
                "CIPHERTALK_FILES_S3_READ_TIMEOUT_MS",
                "CIPHERTALK_FILES_S3_REQUEST_TIMEOUT_SECS",
                "CIPHERTALK_FILES_S3_MAX_RETRIES",
                "CIPHERTALK_FILES_S3_RETRY_WINDOW_MS",
                "CIPHERTALK_TURN_SECRET",
            ]
        );
    }

    /// The value a meaning's "(default X)" stands for, spelled as the
    /// variable would carry it: `1 MiB` is 1048576, `30 days` 2592000,
    /// `none` the empty list. `None` when the meaning names no default.
    fn documented_default(meaning: &str) -> Option<String> {
        let written = default_as_written(meaning)?;
        Some(match written.split_once(' ') {
            None if written == "none" => String::new(),
            None => written.to_owned(),
            Some((n, "MiB")) => (n.parse::<u64>().unwrap() << 20).to_string(),
            Some((n, "day" | "days")) => (n.parse::<u64>().unwrap() * 24 * 3600).to_string(),
            Some(_) => panic!("{meaning:?}: a default in an unknown unit"),
        })
    }

    /// The text after "(default " up to the end of the value.
    fn default_as_written(meaning: &str) -> Option<&str> {
        let rest = meaning.split_once("(default ")?.1;
        let end = [")", ", ", "; ", ": "].iter().filter_map(|stop| rest.find(stop)).min()?;
        Some(&rest[..end])
    }

    /// docs/configuration.md's table must list every setting the code reads.
    #[test]
    fn the_settings_doc_lists_every_setting() {
        for (var, key, _) in SETTINGS {
            assert!(
                SETTINGS_DOC.contains(&format!("| `{var}` | `{key}` |")),
                "docs/configuration.md does not document {var} ({key})"
            );
        }
    }

    /// A default the help states is the one `Config::default()` holds:
    /// setting each variable to its documented default changes nothing.
    #[test]
    fn the_documented_defaults_are_the_defaults() {
        let defaults = format!("{:?}", Config::default());
        for (var, _, meaning) in SETTINGS {
            let Some(value) = documented_default(meaning) else { continue };
            let loaded = Config::load_from(None, [((*var).to_owned(), value.clone())]).unwrap();
            assert_eq!(format!("{loaded:?}"), defaults, "{var}={value} is documented as the default");
        }
    }

    /// docs/configuration.md states the same defaults as the help.
    #[test]
    fn the_settings_doc_states_the_same_defaults() {
        for (var, key, meaning) in SETTINGS {
            let row = format!("| `{var}` | `{key}` | ");
            let Some(line) = SETTINGS_DOC.lines().find(|line| line.starts_with(&row)) else { continue };
            assert_eq!(
                default_as_written(line),
                default_as_written(meaning),
                "docs/configuration.md's default of {var}"
            );
        }
    }
}
