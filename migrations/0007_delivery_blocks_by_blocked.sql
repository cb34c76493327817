-- The delivery projection looks up who blocked the senders of a run of
-- messages: by the blocked user.
CREATE INDEX delivery_blocks_by_blocked ON delivery_blocks (blocked_id);
