-- GET /overview's reads (services/overview.py) and the sweep's one write.

-- name: due_by_hour
-- PENDING and PROCESSING events due before `until`, counted by hour: `bounds` are the starts
-- of the hours after the first, so width_bucket gives each event its hour's index (0: the
-- first hour, where anything overdue counts too); one comparison a row where date_trunc's
-- zone arithmetic took twice as long. One branch per status, so each takes its partial
-- index: events_pending_due alone (index only) for the PENDING, events_processing_lease for
-- the PROCESSING (the few in the queue).
SELECT width_bucket(due_utc, %(bounds)s::timestamptz[]) AS hour, count(*) AS count
FROM (
    SELECT due_utc FROM events WHERE status = 'PENDING' AND due_utc < %(until)s
    UNION ALL
    SELECT due_utc FROM events WHERE status = 'PROCESSING' AND due_utc < %(until)s
) AS due
GROUP BY 1;

-- name: finished_by_hour
-- COMPLETED, FAILED and SKIPPED events that finished in [since, until), counted by hour as in
-- due_by_hour (`bounds`: the starts of the hours after the first); `late` is the COMPLETED
-- delivered more than five minutes after their target (events.late). events_finished, index
-- only.
SELECT width_bucket(updated_at, %(bounds)s::timestamptz[]) AS hour,
       count(*) FILTER (WHERE status = 'COMPLETED') AS completed,
       count(*) FILTER (WHERE status = 'FAILED') AS failed,
       count(*) FILTER (WHERE status = 'SKIPPED') AS skipped,
       count(*) FILTER (WHERE status = 'COMPLETED' AND late) AS late
FROM events
WHERE status IN ('COMPLETED', 'FAILED', 'SKIPPED') AND updated_at >= %(since)s AND updated_at < %(until)s
GROUP BY 1;

-- name: completed_lateness
-- From target to delivery, of the COMPLETED that finished in [since, until): how many, and
-- the 50th and 99th percentiles (nearest rank, as the endpoint stats) from one sort of the
-- intervals themselves (three fifths of the time of sorting their seconds, converted to
-- float8 row by row). events_finished, index only.
SELECT count(*) AS count,
       percentile_disc(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY delivered_at - target_utc) AS percentiles
FROM events
WHERE status = 'COMPLETED' AND updated_at >= %(since)s AND updated_at < %(until)s;

-- name: record_sweep
-- Written over at the end of each run; an older run finishing late leaves a newer one's row.
INSERT INTO last_sweep (one, finished_at, summary)
VALUES (true, %(finished_at)s, %(summary)s)
ON CONFLICT (one) DO UPDATE SET finished_at = excluded.finished_at, summary = excluded.summary
WHERE last_sweep.finished_at < excluded.finished_at;

-- name: last_sweep
SELECT finished_at FROM last_sweep;
