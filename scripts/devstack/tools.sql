-- The tools' queries (the simulator, the benchmark, make run's progress line, the volume
-- tests' load), read by scripts/devstack/store.py only: none of them is the app's.

-- name: next_work
-- When the sweeper next has something to do: the earliest PENDING event to fall due, and the
-- earliest lease to run out (an unsent claim's is due since it was claimed).
SELECT (SELECT min(due_utc) FROM events WHERE status = 'PENDING') AS due,
       LEAST((SELECT min(lease_until) FROM events WHERE status = 'PROCESSING' AND NOT unsent),
             (SELECT min(updated_at) FROM events WHERE unsent)) AS lease;

-- name: event_counts
-- The simulator's closing tally, per event type and status.
SELECT event_type, status, count(*) AS n FROM events GROUP BY event_type, status ORDER BY 1, 2;
-- name: seed_due_birthdays
-- N users with one PENDING birthday each, targets from %(first)s every %(spacing)s: the
-- benchmark's and the volume tests' load, in one statement (the FK is checked at its end).
WITH s AS (
    SELECT g, gen_random_uuid() AS user_id FROM generate_series(1, %(n)s) AS g
), u AS (
    INSERT INTO users (id, first_name, last_name, date_of_birth, timezone, created_at, updated_at)
    SELECT user_id, 'User', 'Number ' || g, %(date_of_birth)s, %(timezone)s, %(now)s, %(now)s FROM s
)
INSERT INTO events (id, user_id, event_type, occurrence_date, target_utc, due_utc, timezone,
                    idempotency_key, status, version, attempts, created_at, updated_at)
SELECT gen_random_uuid(), user_id, 'birthday', %(occurrence_date)s,
       %(first)s + (g - 1) * %(spacing)s, %(first)s + (g - 1) * %(spacing)s, %(timezone)s,
       gen_random_uuid()::text, 'PENDING', 1, 0, %(now)s, %(now)s
FROM s;

-- name: cancel_processing
-- The benchmark clears what its sweeper-alone run only ever claimed, out of the end-to-end run's way.
UPDATE events SET status = 'CANCELLED', lease_until = NULL, unsent = false WHERE status = 'PROCESSING';

-- name: lateness
-- The benchmark's report for one run (its events share one target instant).
SELECT count(*) AS n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - target_utc)) AS p50,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - target_utc)) AS p99
FROM events
WHERE status = 'COMPLETED' AND target_utc = %(target)s;

-- name: progress_counts
-- make run's progress line: events in flight, and events completed in (since, until] on the
-- app's clock. Bounded above: a run with another CLOCK_OFFSET stamps deliveries in this run's
-- future, and "after since" alone counted them in every interval until the clock got there.
SELECT count(*) FILTER (WHERE status = 'PROCESSING') AS processing,
       count(*) FILTER (WHERE status = 'COMPLETED' AND delivered_at > %(since)s
                        AND delivered_at <= %(until)s) AS completed
FROM events
WHERE status = 'PROCESSING'
   OR (status = 'COMPLETED' AND delivered_at > %(since)s AND delivered_at <= %(until)s);
