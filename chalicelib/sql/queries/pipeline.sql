-- name: count_due
-- The sweeper's "found": due PENDING events plus PROCESSING events whose lease expired.
SELECT
    (SELECT count(*) FROM events WHERE status = 'PENDING' AND due_utc <= %(now)s) AS pending,
    (SELECT count(*) FROM events WHERE status = 'PROCESSING' AND lease_until <= %(now)s) AS expired;

-- name: claim_due
-- The bulk form of Event.claim, one statement per batch. SKIP LOCKED lets concurrent
-- sweepers take disjoint rows; the version bump makes any older message for a row stale.
UPDATE events AS e
SET status = 'PROCESSING', version = e.version + 1, lease_until = %(lease_until)s,
    late = %(now)s - e.target_utc > %(late_after)s, updated_at = %(now)s
WHERE e.id IN (
    SELECT id FROM events
    WHERE status = 'PENDING' AND due_utc <= %(now)s
    ORDER BY due_utc
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING e.id, e.version, e.idempotency_key, e.target_utc;

-- name: requeue_expired
-- The bulk form of Event.requeue: claimed, but no worker finished before the lease ran out
-- (a lost message, a crashed worker, a failed send). Recovery after downtime is this too.
UPDATE events AS e
SET version = e.version + 1, lease_until = %(lease_until)s,
    late = %(now)s - e.target_utc > %(late_after)s, updated_at = %(now)s
WHERE e.id IN (
    SELECT id FROM events
    WHERE status = 'PROCESSING' AND lease_until <= %(now)s
    ORDER BY lease_until
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING e.id, e.version, e.idempotency_key, e.target_utc;

-- name: shorten_leases
-- Messages that never reached SQS: the lease is cut so that a coming sweep sends them again.
-- No version bump (no message exists), and only where the claim is still the current one.
UPDATE events AS e
SET lease_until = %(lease_until)s
FROM unnest(%(ids)s::uuid[], %(versions)s::integer[]) AS sent (id, version)
WHERE e.id = sent.id AND e.version = sent.version AND e.status = 'PROCESSING'
  AND e.lease_until > %(lease_until)s;

-- name: extend_leases
-- The worker received these current messages: their events are held longer, so the sweeper
-- does not re-send what is being worked on. No version bump (the message stays current), never
-- shortened, only on the message's version. SKIP LOCKED: a row another transaction holds (a
-- re-queue, a reschedule, a duplicate's finalise) is changing anyway, and waiting on rows taken
-- in no particular order could deadlock.
UPDATE events AS e
SET lease_until = held.lease_until
FROM (
    SELECT ev.id, h.lease_until
    FROM unnest(%(ids)s::uuid[], %(versions)s::integer[], %(leases)s::timestamptz[])
         AS h (id, version, lease_until)
    JOIN events AS ev ON ev.id = h.id AND ev.version = h.version
    WHERE ev.status = 'PROCESSING' AND ev.lease_until < h.lease_until
    FOR UPDATE OF ev SKIP LOCKED
) AS held
WHERE e.id = held.id;

-- name: events_by_ids
SELECT * FROM events WHERE id = ANY(%(ids)s);

-- name: users_by_ids
SELECT * FROM users WHERE id = ANY(%(ids)s) AND deleted_at IS NULL;

-- name: lock_users
-- In id order, so two workers that share users never deadlock.
SELECT * FROM users WHERE id = ANY(%(ids)s) AND deleted_at IS NULL ORDER BY id FOR UPDATE;

-- name: finish_events
-- The worker's writes for a whole batch in one statement: each row lands only on the version
-- the worker read (as update_event does one by one). Returns the rows that landed.
UPDATE events AS e
SET status = n.status, version = n.version, attempts = n.attempts, lease_until = n.lease_until,
    delivered_at = n.delivered_at, late = n.late, failure_reason = n.failure_reason,
    updated_at = n.updated_at
FROM unnest(%(ids)s::uuid[], %(expected)s::integer[], %(statuses)s::text[], %(versions)s::integer[],
            %(attempts)s::integer[], %(leases)s::timestamptz[], %(delivered)s::timestamptz[],
            %(late)s::boolean[], %(reasons)s::text[], %(updated)s::timestamptz[])
     AS n (id, expected, status, version, attempts, lease_until, delivered_at, late, failure_reason,
           updated_at)
WHERE e.id = n.id AND e.version = n.expected
RETURNING e.id;

-- name: event_dates_for_users
-- What scheduling the next occurrences must know: which dates each user already has, and
-- which events are still coming.
SELECT id, user_id, event_type, occurrence_date, status FROM events WHERE user_id = ANY(%(user_ids)s);
