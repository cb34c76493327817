-- A session (refresh family) belongs to one device. The nil UUID stands for
-- the user's first device (`DeviceId::first_of(user_id)`, which SQL cannot
-- compute simply; `db::device_column`): families started before devices take
-- it as the default and stay the first device's.
ALTER TABLE refresh_families ADD COLUMN device_id uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000';
