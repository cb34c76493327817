-- Projection `delivery`: the devices it has seen removed (a tombstone per
-- device), so that a to-device message to one of them is not published to a
-- subject nobody reads any more. Removed ids are not minted again. Starts
-- empty on an upgrade: a device removed before it only gets messages nobody
-- reads, as before (a rebuild fills it from the log).
CREATE TABLE delivery_removed_devices (
    user_id   uuid NOT NULL,
    device_id uuid NOT NULL,
    PRIMARY KEY (user_id, device_id)
);
