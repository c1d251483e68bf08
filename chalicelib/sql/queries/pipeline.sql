-- name: lease_until
-- The one lease formula of the sweeper's statements, set into each as {lease_until}: the event
-- is held for the lease from when it is due, or from now when it is overdue (Event.lease_from;
-- tests/integration/test_state_machine.py holds the two to each other).
GREATEST(%(now)s::timestamptz, e.due_utc) + %(lease)s::interval

-- name: count_due
-- The sweeper's "found": PENDING events due within its look-ahead plus PROCESSING events whose
-- lease ran out or whose message never reached SQS.
SELECT
    (SELECT count(*) FROM events WHERE status = 'PENDING' AND due_utc <= %(horizon)s) AS pending,
    (SELECT count(*) FROM events
     WHERE status = 'PROCESSING' AND (lease_until <= %(now)s OR unsent)) AS expired;

-- name: claim_due
-- The bulk form of Event.claim, one statement per batch, for what falls due up to the horizon
-- (the sweep looks ahead; each message is then delayed until its event is due). The lease runs
-- from when the event is due, so the delay never eats into it. SKIP LOCKED lets concurrent
-- sweepers take disjoint rows; the version bump makes any older message for a row stale.
UPDATE events AS e
SET status = 'PROCESSING', version = e.version + 1,
    lease_until = {lease_until}, unsent = false,
    late = %(now)s - e.target_utc > %(late_after)s, updated_at = %(now)s
WHERE e.id IN (
    SELECT id FROM events
    WHERE status = 'PENDING' AND due_utc <= %(horizon)s
    ORDER BY due_utc
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING e.id, e.version, e.idempotency_key, e.target_utc, e.due_utc;

-- name: resend_unsent
-- The bulk form of Event.requeue for claims whose message never reached SQS (`unsent`): sent
-- again at once, under a new version in case a refused send got through.
UPDATE events AS e
SET version = e.version + 1,
    lease_until = {lease_until}, unsent = false,
    late = %(now)s - e.target_utc > %(late_after)s, updated_at = %(now)s
WHERE e.id IN (
    SELECT id FROM events
    WHERE status = 'PROCESSING' AND unsent
    ORDER BY due_utc
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING e.id, e.version, e.idempotency_key, e.target_utc, e.due_utc;

-- name: requeue_expired
-- The bulk form of Event.requeue: claimed and sent, but no worker finished before the lease ran
-- out (a lost message, a crashed worker). Oldest lease first; the sweeper limits how many by the
-- queue's depth (`count_expecting_a_message`). Recovery after downtime is this too.
UPDATE events AS e
SET version = e.version + 1,
    lease_until = {lease_until}, unsent = false,
    late = %(now)s - e.target_utc > %(late_after)s, updated_at = %(now)s
WHERE e.id IN (
    SELECT id FROM events
    WHERE status = 'PROCESSING' AND lease_until <= %(now)s AND NOT unsent
    ORDER BY lease_until
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING e.id, e.version, e.idempotency_key, e.target_utc, e.due_utc;

-- name: count_expecting_a_message
-- PROCESSING events whose message reached SQS: each should have one in the queue (visible, in
-- flight or delayed) until a worker finishes it.
SELECT count(*) AS n FROM events WHERE status = 'PROCESSING' AND NOT unsent;

-- name: mark_unsent
-- Messages that never reached SQS: marked unsent, so the next sweep sends them first. No version
-- bump (no message exists), and only where the claim is still current.
UPDATE events AS e
SET unsent = true
FROM unnest(%(ids)s::uuid[], %(versions)s::integer[]) AS sent (id, version)
WHERE e.id = sent.id AND e.version = sent.version AND e.status = 'PROCESSING';

-- name: extend_leases
-- The worker received these current messages: their events are held longer, so the sweeper
-- does not re-send what is being worked on. No version bump (the message stays current), never
-- shortened, only on the message's version; a message received is no longer unsent (a send
-- refused with an error may still have got through). SKIP LOCKED: a row another transaction holds (a
-- re-queue, a reschedule, a duplicate's finalise) is changing anyway, and waiting on rows taken
-- in no particular order could deadlock.
UPDATE events AS e
SET lease_until = held.lease_until, unsent = false
FROM (
    SELECT ev.id, h.lease_until
    FROM unnest(%(ids)s::uuid[], %(versions)s::integer[], %(leases)s::timestamptz[])
         AS h (id, version, lease_until)
    JOIN events AS ev ON ev.id = h.id AND ev.version = h.version
    WHERE ev.status = 'PROCESSING' AND (ev.lease_until < h.lease_until OR ev.unsent)
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
    unsent = n.unsent, delivered_at = n.delivered_at, late = n.late,
    failure_reason = n.failure_reason, updated_at = n.updated_at
FROM unnest(%(ids)s::uuid[], %(expected)s::integer[], %(statuses)s::text[], %(versions)s::integer[],
            %(attempts)s::integer[], %(leases)s::timestamptz[], %(unsent)s::boolean[],
            %(delivered)s::timestamptz[], %(late)s::boolean[], %(reasons)s::text[],
            %(updated)s::timestamptz[])
     AS n (id, expected, status, version, attempts, lease_until, unsent, delivered_at, late,
           failure_reason, updated_at)
WHERE e.id = n.id AND e.version = n.expected
RETURNING e.id;

-- name: known_events
-- What planning the next occurrences must know: which dates each series of these users
-- already has an event for, and which events are still coming. Only events targeted after
-- `since` matter to "the next occurrence after t" (since = t minus a margin): a user's history
-- grows, this read does not.
SELECT id, user_id, event_type, schedule_id, occurrence_date, status FROM events
WHERE user_id = ANY(%(user_ids)s) AND target_utc >= %(since)s;
