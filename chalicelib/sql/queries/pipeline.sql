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

-- name: events_by_ids
SELECT * FROM events WHERE id = ANY(%(ids)s);

-- name: users_by_ids
SELECT * FROM users WHERE id = ANY(%(ids)s) AND deleted_at IS NULL;

-- name: lock_users
-- In id order, so two workers that share users never deadlock.
SELECT * FROM users WHERE id = ANY(%(ids)s) AND deleted_at IS NULL ORDER BY id FOR UPDATE;

-- name: other_active_event
-- Does the user already have a coming event of this type (besides this one)?
SELECT EXISTS (
    SELECT 1 FROM events
    WHERE user_id = %(user_id)s AND event_type = %(event_type)s AND id <> %(id)s
      AND status IN ('PENDING', 'PROCESSING')
) AS found;
