-- Delivery cursors are per device: each device receives everything after its
-- own acknowledged cursor. A row without a device is the user's first
-- device's (`DeviceId::first_of(user_id)`, which SQL cannot compute simply):
-- the rows written before devices keep meaning what they meant, and the first
-- device's cursor is always stored that way.
ALTER TABLE delivery_cursors ADD COLUMN device_id uuid;
ALTER TABLE delivery_cursors DROP CONSTRAINT delivery_cursors_pkey;
CREATE UNIQUE INDEX delivery_cursors_user_device ON delivery_cursors (user_id, device_id) NULLS NOT DISTINCT;

-- The ticket was bought by a session of one device; the socket it opens
-- delivers that device's queue. NULL: the first device (tickets issued before).
ALTER TABLE ws_tickets ADD COLUMN device_id uuid;
