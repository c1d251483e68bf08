-- name: next_work
-- When the sweeper next has something to do: the earliest PENDING event to fall due, and the
-- earliest lease to run out (both served by partial indexes).
SELECT (SELECT min(due_utc) FROM events WHERE status = 'PENDING') AS due,
       (SELECT min(lease_until) FROM events WHERE status = 'PROCESSING') AS lease;

-- name: event_counts
-- The simulator's closing tally, per event type and status.
SELECT event_type, status, count(*) AS n FROM events GROUP BY event_type, status ORDER BY 1, 2;
