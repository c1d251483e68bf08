-- name: insert_schedule
INSERT INTO schedules (id, user_id, event_type, payload, start_date, local_time, timezone, recurrence,
                       invalid_date, dst_gap, dst_overlap, status, paused_at, version, created_at,
                       updated_at, audience)
VALUES (%(id)s, %(user_id)s, %(event_type)s, %(payload)s, %(start_date)s, %(local_time)s, %(timezone)s,
        %(recurrence)s, %(invalid_date)s, %(dst_gap)s, %(dst_overlap)s, %(status)s, %(paused_at)s,
        %(version)s, %(created_at)s, %(updated_at)s, %(audience)s);

-- name: update_schedule
UPDATE schedules
SET payload = %(payload)s, start_date = %(start_date)s, local_time = %(local_time)s,
    timezone = %(timezone)s, recurrence = %(recurrence)s, invalid_date = %(invalid_date)s,
    dst_gap = %(dst_gap)s, dst_overlap = %(dst_overlap)s, status = %(status)s,
    paused_at = %(paused_at)s, version = %(version)s, updated_at = %(updated_at)s,
    audience = %(audience)s
WHERE id = %(id)s AND deleted_at IS NULL;

-- name: get_schedule
SELECT * FROM schedules WHERE id = %(id)s AND deleted_at IS NULL;

-- name: delete_schedule
UPDATE schedules SET deleted_at = %(now)s, updated_at = %(now)s
WHERE id = %(id)s AND deleted_at IS NULL;

-- name: delete_schedules_of_user
UPDATE schedules SET deleted_at = %(now)s, updated_at = %(now)s
WHERE user_id = %(user_id)s AND deleted_at IS NULL;

-- name: list_schedules
SELECT * FROM schedules
WHERE user_id = %(user_id)s AND deleted_at IS NULL AND (%(after)s::uuid IS NULL OR id > %(after)s::uuid)
ORDER BY id
LIMIT %(limit)s;

-- name: schedules_for_users
SELECT * FROM schedules WHERE user_id = ANY(%(user_ids)s) AND deleted_at IS NULL;

-- name: schedules_by_ids
-- By primary key, then the live ones: on a table not yet analysed, `deleted_at IS NULL` alone
-- led the planner to scan every live schedule through the schedules_user partial index.
WITH wanted AS MATERIALIZED (SELECT * FROM schedules WHERE id = ANY(%(ids)s))
SELECT * FROM wanted WHERE deleted_at IS NULL;

-- name: end_schedules
-- Schedules whose rule has nothing more to deliver (a paused one stays paused).
UPDATE schedules SET status = 'ended', version = version + 1, updated_at = %(now)s
WHERE id = ANY(%(ids)s) AND status = 'active' AND deleted_at IS NULL;

-- name: next_events_of_schedules
-- Each schedule's earliest PENDING or PROCESSING event: its next occurrence.
SELECT DISTINCT ON (schedule_id) * FROM events
WHERE schedule_id = ANY(%(ids)s) AND status IN ('PENDING', 'PROCESSING')
ORDER BY schedule_id, target_utc, id;
