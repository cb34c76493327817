-- A WebSocket opened with a ticket ends with the session and the access token
-- the ticket was bought with: the ticket remembers both.
ALTER TABLE ws_tickets
    ADD COLUMN session_id uuid,
    ADD COLUMN token_expires_at timestamptz;
