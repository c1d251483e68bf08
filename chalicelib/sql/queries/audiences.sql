-- name: audience_schedules
-- The live audience schedules, active or ended (whose last occurrence may still be coming to
-- a user who moves west): every user's planning and every sweep reads them.
SELECT * FROM schedules
WHERE user_id IS NULL AND deleted_at IS NULL AND status IN ('active', 'ended')
ORDER BY id;

-- name: list_all_schedules
-- GET /schedules: every schedule in id order, each filter NULL for "any".
SELECT * FROM schedules
WHERE deleted_at IS NULL
  AND (%(audience)s::boolean IS NULL OR (user_id IS NULL) = %(audience)s::boolean)
  AND (%(event_type)s::text IS NULL OR event_type = %(event_type)s::text)
  AND (%(status)s::text IS NULL OR status = %(status)s::text)
  AND (%(after)s::uuid IS NULL OR id > %(after)s::uuid)
ORDER BY id
LIMIT %(limit)s;

-- name: lock_schedule
-- The schedule row, locked for a change to its events (FOR UPDATE) or for a sweep's batch
-- (FOR SHARE, see lock_schedule_shared): a pause, a PATCH or a delete waits for the batch in
-- flight, and the next batch sees it.
SELECT * FROM schedules WHERE id = %(id)s AND deleted_at IS NULL FOR UPDATE;

-- name: lock_schedule_shared
SELECT * FROM schedules WHERE id = %(id)s AND deleted_at IS NULL FOR SHARE;

-- name: audience_zones
-- The zones where the audience has at least one member now (every audience's zones are among
-- the users' zones, found by a loose index scan of users_zone: one probe a zone, however many
-- users; for everyone, NULL metadata, that is all).
WITH RECURSIVE zones AS (
    (SELECT timezone FROM users WHERE deleted_at IS NULL ORDER BY timezone LIMIT 1)
    UNION ALL
    SELECT (SELECT u.timezone FROM users AS u
            WHERE u.deleted_at IS NULL AND u.timezone > zones.timezone
            ORDER BY u.timezone LIMIT 1)
    FROM zones WHERE zones.timezone IS NOT NULL
)
SELECT z.timezone FROM zones AS z
WHERE z.timezone IS NOT NULL
  AND (%(metadata)s::jsonb IS NULL OR EXISTS (
      SELECT 1 FROM users AS u
      WHERE u.timezone = z.timezone AND u.deleted_at IS NULL AND u.metadata @> %(metadata)s::jsonb));

-- name: audience_progress
SELECT * FROM audience_progress WHERE schedule_id = %(schedule_id)s;

-- name: save_audience_progress
-- Each zone's progress, written with the batch it describes (or set anew: creation, PATCH,
-- resume).
INSERT INTO audience_progress (schedule_id, timezone, through, local_date, target_utc, after_user, updated_at)
SELECT %(schedule_id)s, p.timezone, p.through, p.local_date, p.target_utc, p.after_user, %(now)s
FROM unnest(%(zones)s::text[], %(throughs)s::timestamptz[], %(dates)s::date[], %(targets)s::timestamptz[],
            %(after)s::uuid[]) AS p (timezone, through, local_date, target_utc, after_user)
ON CONFLICT (schedule_id, timezone) DO UPDATE
SET through = excluded.through, local_date = excluded.local_date, target_utc = excluded.target_utc,
    after_user = excluded.after_user, updated_at = excluded.updated_at;

-- name: forget_audience_progress
DELETE FROM audience_progress WHERE schedule_id = %(schedule_id)s;

-- name: materialise_audience
-- One batch of a zone's members, in id order after `after`: each gets the occurrence as an
-- event already claimed (PROCESSING, leased by the lease_until formula, as claim_due leaves one), whose
-- message the sweeper sends at once with the seconds left as its delay: one write a member, not
-- an insert and then a claim. The key is the one audience_key computes: a version 3 UUID over
-- MD5(namespace || user id || '/audience/<schedule>/<date>'), the parts around the user id
-- passed once for the batch (formatting them per member was a fifth of the statement's time).
-- Each event's id is a version 7 UUID (RFC 9562: the statement's time in milliseconds, then
-- random bits), so a batch's rows go to the right-hand edge of the primary key and of the
-- (target, id) indexes rather than to random pages of them (the statement alone, a million
-- members on two connections: 33,400 rows/s, against 26,400 with random ids). ON CONFLICT: a
-- member whose event for that date exists (planned by their own change, written by a sweep that died
-- before recording its progress, or delivered before a move here) gets nothing more. The
-- members' rows are locked (FOR SHARE) and read again, so a change to one (a move, a metadata
-- change, a delete: each takes the user's lock) either waits for this batch and then finds its
-- event, or commits first and decides membership.
WITH batch AS (
    SELECT id FROM users
    WHERE timezone = %(timezone)s AND deleted_at IS NULL
      AND (%(after)s::uuid IS NULL OR id > %(after)s::uuid)
      AND (%(metadata)s::jsonb IS NULL OR metadata @> %(metadata)s::jsonb)
    ORDER BY id
    LIMIT %(limit)s
), members AS (
    SELECT u.id FROM users AS u JOIN batch USING (id)
    WHERE u.timezone = %(timezone)s AND u.deleted_at IS NULL
      AND (%(metadata)s::jsonb IS NULL OR u.metadata @> %(metadata)s::jsonb)
    FOR SHARE OF u
), written AS (
    INSERT INTO events (id, user_id, event_type, occurrence_date, target_utc, due_utc, timezone,
                        idempotency_key, status, version, attempts, lease_until, late, created_at,
                        updated_at, schedule_id)
    SELECT encode(set_byte(overlay(k.r PLACING k.ms FROM 1 FOR 6), 6, (get_byte(k.r, 6) & 15) | 112), 'hex')::uuid,
           m.id, %(event_type)s, %(local_date)s, %(target_utc)s, %(target_utc)s,
           %(timezone)s,
           encode(set_byte(set_byte(k.h, 6, (get_byte(k.h, 6) & 15) | 48), 8, (get_byte(k.h, 8) & 63) | 128),
                  'hex')::uuid::text,
           'PROCESSING', 1, 0,
           GREATEST(%(now)s::timestamptz, %(target_utc)s::timestamptz) + %(lease)s::interval,
           %(now)s::timestamptz - %(target_utc)s::timestamptz > %(late_after)s::interval, %(now)s, %(now)s,
           %(schedule_id)s
    FROM members AS m
    CROSS JOIN LATERAL (
        SELECT decode(md5(%(key_before)s::bytea || convert_to(m.id::text, 'UTF8') || %(key_after)s::bytea), 'hex') AS h,
               uuid_send(gen_random_uuid()) AS r,
               substring(int8send((extract(epoch FROM statement_timestamp()) * 1000)::bigint) FROM 3) AS ms
    ) AS k
    ON CONFLICT DO NOTHING
    RETURNING id, idempotency_key
), scanned AS (
    SELECT max(id::text)::uuid AS last_user, count(*) AS scanned FROM batch
)
-- Each claim's version (1), target and due instant are the batch's own: only what differs
-- comes back (decoding two timestamps a member was a third of the sweep's Python time).
SELECT s.last_user, s.scanned, w.id, w.idempotency_key
FROM scanned AS s LEFT JOIN written AS w ON true;

-- name: cancel_schedule_events
-- An audience schedule paused, changed or deleted: its coming events are cancelled in one
-- statement (a message already queued for one is then stale), in id order.
UPDATE events AS e
SET status = 'CANCELLED', version = e.version + 1, lease_until = NULL, unsent = false, updated_at = %(now)s
WHERE e.id IN (
    SELECT id FROM events
    WHERE schedule_id = %(schedule_id)s AND status IN ('PENDING', 'PROCESSING')
    ORDER BY id
    FOR UPDATE
);

-- name: count_audience
-- How many live users the audience includes now.
SELECT count(*) AS n FROM users
WHERE deleted_at IS NULL AND (%(metadata)s::jsonb IS NULL OR metadata @> %(metadata)s::jsonb);

-- name: count_occurrence_events
-- One local date's events of a schedule, by status. A local date's instants all fall within
-- a day before it to two days after its start (offsets run from -12 to +14 hours), which
-- keeps the read on events_schedule_target.
SELECT status, count(*) AS n FROM events
WHERE schedule_id = %(schedule_id)s AND occurrence_date = %(local_date)s
  AND target_utc >= ((%(local_date)s::date - 1)::timestamp AT TIME ZONE 'UTC')
  AND target_utc < ((%(local_date)s::date + 2)::timestamp AT TIME ZONE 'UTC')
GROUP BY status;
