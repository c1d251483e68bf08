-- Audience schedules (issue 21): one schedule for every user whose metadata contains an object
-- (or for all), each at their own local time. Such a schedule has no user and an audience;
-- each user's occurrence is an ordinary event, keyed per (schedule, user, local date).
-- 0007, not 0006: another branch takes 0006; the runner applies whichever is missing.
ALTER TABLE schedules ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE schedules ADD COLUMN audience jsonb CHECK (jsonb_typeof(audience) = 'object');
ALTER TABLE schedules ADD CONSTRAINT schedules_user_or_audience CHECK (
    (user_id IS NULL) = (audience IS NOT NULL) AND (audience IS NULL OR timezone IS NULL)
);
-- GET /schedules pages every schedule in id order; the sweeper reads the live audience ones.
CREATE INDEX schedules_live ON schedules (id) WHERE deleted_at IS NULL;
CREATE INDEX schedules_audience ON schedules (id) WHERE user_id IS NULL AND deleted_at IS NULL;

-- The sweeper walks an audience zone by zone, in id order (a keyset over this index); the
-- distinct zones come from it too (a loose index scan). `@>` on metadata takes the GIN index.
CREATE INDEX users_zone ON users (timezone, id) WHERE deleted_at IS NULL;
CREATE INDEX users_metadata ON users USING gin (metadata jsonb_path_ops) WHERE deleted_at IS NULL;

-- How far the sweeper has materialised each audience schedule in each zone: every occurrence
-- targeted at or before `through` is done; `local_date` (with `target_utc`) is the one being
-- written, users after `after_user` still to go. A batch and its progress commit together, so
-- a sweep that dies half-way resumes where the last batch ended.
CREATE TABLE audience_progress (
    schedule_id uuid NOT NULL REFERENCES schedules (id),
    timezone    text NOT NULL,
    through     timestamptz NOT NULL,
    local_date  date,
    target_utc  timestamptz,
    after_user  uuid,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (schedule_id, timezone),
    CONSTRAINT audience_progress_current CHECK ((local_date IS NULL) = (target_utc IS NULL))
);

-- An audience occurrence's idempotency key, as chalicelib/domain/events.py's audience_key
-- computes it: a name-based UUID over MD5 (version 3), which PostgreSQL has built in (SHA-1,
-- which uuid5 needs, it has not), so a batch of a zone's users is one INSERT … SELECT.
CREATE FUNCTION audience_event_key(user_id uuid, schedule_id uuid, local_date date) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT encode(set_byte(set_byte(h, 6, (get_byte(h, 6) & 15) | 48), 8, (get_byte(h, 8) & 63) | 128), 'hex')::uuid::text
    FROM (SELECT decode(md5('\x6f1c2d1e4b7a4f559f0e5e7d3c9a1b20'::bytea
                             || convert_to(user_id::text || '/audience/' || schedule_id::text || '/'
                                           || to_char(local_date, 'YYYY-MM-DD'), 'UTF8')), 'hex') AS h) AS digest
$$;
