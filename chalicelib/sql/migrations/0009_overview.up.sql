-- GET /overview (issue 24): what finished in the last 24 hours, by hour, and when the sweep
-- last ran.
--
-- A finished event's row changes no more (only a FAILED one an operator retries leaves the
-- state), so `updated_at` is when it finished. The overview counts a day of them by hour and
-- takes the lateness percentiles of the COMPLETED: this index answers both from the index
-- alone (an index-only scan over the day, no visit to the table), where events_status_target
-- would read every COMPLETED row of the day's targets from the table. The due side needs no
-- new index: events_pending_due answers "PENDING by due_utc".
CREATE INDEX events_finished ON events (updated_at) INCLUDE (status, late, target_utc, delivered_at)
    WHERE status IN ('COMPLETED', 'FAILED', 'SKIPPED');

-- The last finished sweep, one row written over at the end of each run (a sweep a minute:
-- one row, not a log that would need forgetting). `summary` is the run's JSON summary, as logged.
CREATE TABLE last_sweep (
    one          boolean PRIMARY KEY DEFAULT true CHECK (one),
    finished_at  timestamptz NOT NULL,
    summary      jsonb NOT NULL CHECK (jsonb_typeof(summary) = 'object')
);
