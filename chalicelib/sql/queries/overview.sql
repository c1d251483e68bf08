-- GET /overview's reads (services/overview.py) and the sweep's one write. Hours are UTC hours
-- whatever the session's TimeZone (date_trunc's third argument).

-- name: due_by_hour
-- PENDING and PROCESSING events due before `until`, by the UTC hour they fall due in; one
-- overdue (before `first`, the current hour) counts in the current hour. One branch per status,
-- so each takes its partial index: events_pending_due alone (index only) for the PENDING, and
-- events_processing_lease for the PROCESSING (the few in the queue).
SELECT greatest(date_trunc('hour', due_utc, 'UTC'), %(first)s) AS hour, count(*) AS count
FROM (
    SELECT due_utc FROM events WHERE status = 'PENDING' AND due_utc < %(until)s
    UNION ALL
    SELECT due_utc FROM events WHERE status = 'PROCESSING' AND due_utc < %(until)s
) AS due
GROUP BY 1;

-- name: finished_by_hour
-- COMPLETED, FAILED and SKIPPED events that finished in [since, until), by UTC hour; `late` is
-- the COMPLETED delivered more than five minutes after their target (events.late).
-- events_finished, index only.
SELECT date_trunc('hour', updated_at, 'UTC') AS hour,
       count(*) FILTER (WHERE status = 'COMPLETED') AS completed,
       count(*) FILTER (WHERE status = 'FAILED') AS failed,
       count(*) FILTER (WHERE status = 'SKIPPED') AS skipped,
       count(*) FILTER (WHERE status = 'COMPLETED' AND late) AS late
FROM events
WHERE status IN ('COMPLETED', 'FAILED', 'SKIPPED') AND updated_at >= %(since)s AND updated_at < %(until)s
GROUP BY 1;

-- name: completed_lateness
-- Seconds from target to delivery of the COMPLETED that finished in [since, until): how many,
-- and the 50th and 99th percentiles (nearest rank, as the endpoint stats). events_finished,
-- index only.
SELECT count(*) AS count,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY lateness) AS p50,
       percentile_disc(0.99) WITHIN GROUP (ORDER BY lateness) AS p99
FROM (
    SELECT extract(epoch FROM delivered_at - target_utc)::float8 AS lateness
    FROM events
    WHERE status = 'COMPLETED' AND updated_at >= %(since)s AND updated_at < %(until)s
) AS completed;

-- name: record_sweep
-- Written over at the end of each run; an older run finishing late leaves a newer one's row.
INSERT INTO last_sweep (one, finished_at, summary)
VALUES (true, %(finished_at)s, %(summary)s)
ON CONFLICT (one) DO UPDATE SET finished_at = excluded.finished_at, summary = excluded.summary
WHERE last_sweep.finished_at < excluded.finished_at;

-- name: last_sweep
SELECT finished_at FROM last_sweep;
