-- Delivery cursors are per device: each device receives everything after its
-- own acknowledged cursor. The nil UUID stands for the user's first device
-- (`DeviceId::first_of(user_id)`, which SQL cannot compute simply): the rows
-- written before devices take it as the default and keep meaning what they
-- meant, and the first device's cursor is always stored that way. A sentinel,
-- not NULL, so the key needs no NULLS NOT DISTINCT (Postgres 15); the same
-- convention as refresh_families (`db::device_column`).
ALTER TABLE delivery_cursors ADD COLUMN device_id uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000';
ALTER TABLE delivery_cursors DROP CONSTRAINT delivery_cursors_pkey;
ALTER TABLE delivery_cursors ADD PRIMARY KEY (user_id, device_id);

-- The ticket was bought by a session of one device; the socket it opens
-- delivers that device's queue. The nil UUID: the first device (tickets issued before).
ALTER TABLE ws_tickets ADD COLUMN device_id uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000';
