-- name: progress_counts
-- make run's progress line: events in flight, and events completed since a given instant
-- (the app's clock, which CLOCK_OFFSET may shift).
SELECT count(*) FILTER (WHERE status = 'PROCESSING') AS processing,
       count(*) FILTER (WHERE status = 'COMPLETED' AND delivered_at > %(since)s) AS delivered
FROM events
WHERE status = 'PROCESSING' OR (status = 'COMPLETED' AND delivered_at > %(since)s);
