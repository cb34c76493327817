-- User aggregates now remember whether their admin role came from the
-- configuration (so that removing an address demotes). Snapshots taken before
-- they did would load without it, and such an admin would never be demoted.
-- Snapshots are a cache of immutable history: dropping them loses nothing, the
-- next load replays the events (and takes a new one).
DELETE FROM aggregate_snapshots WHERE aggregate_type = 'user';
