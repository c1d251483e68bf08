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

-- name: lateness
-- The benchmark's report for one run (its events share one target instant).
SELECT count(*) AS n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - target_utc)) AS p50,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - target_utc)) AS p99
FROM events
WHERE status = 'COMPLETED' AND target_utc = %(target)s;
