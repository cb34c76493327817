-- A session (refresh family) belongs to one device. Families started before
-- devices have none: they are the user's first device's (read as
-- `DeviceId::first_of(user_id)`, which SQL cannot compute simply).
ALTER TABLE refresh_families ADD COLUMN device_id uuid;
