-- Which members could be woken by a push at all (a device registered for
-- push, notifications on), kept by the notifications projection on each
-- membership and whenever the user's registrations or setting change: a
-- message then reads only the members it may wake (the partial index), not
-- every member with a probe of push_registrations and notify_quiet_users each.
ALTER TABLE notify_members ADD COLUMN wakeable boolean NOT NULL DEFAULT false;

UPDATE notify_members m
   SET wakeable = EXISTS (SELECT 1 FROM push_registrations p WHERE p.user_id = m.user_id)
                  AND NOT EXISTS (SELECT 1 FROM notify_quiet_users q WHERE q.user_id = m.user_id);

CREATE INDEX notify_members_wakeable ON notify_members (room_id) WHERE wakeable;
CREATE INDEX notify_members_user ON notify_members (user_id);
