-- name: insert_event
INSERT INTO events (id, user_id, event_type, occurrence_date, target_utc, due_utc, timezone,
                    idempotency_key, status, version, attempts, lease_until, delivered_at, late,
                    failure_reason, created_at, updated_at)
VALUES (%(id)s, %(user_id)s, %(event_type)s, %(occurrence_date)s, %(target_utc)s, %(due_utc)s,
        %(timezone)s, %(idempotency_key)s, %(status)s, %(version)s, %(attempts)s, %(lease_until)s,
        %(delivered_at)s, %(late)s, %(failure_reason)s, %(created_at)s, %(updated_at)s);

-- name: update_event
-- Optimistic concurrency: the write lands only on the version the caller read.
UPDATE events
SET occurrence_date = %(occurrence_date)s, target_utc = %(target_utc)s, due_utc = %(due_utc)s,
    timezone = %(timezone)s, idempotency_key = %(idempotency_key)s, status = %(status)s,
    version = %(version)s, attempts = %(attempts)s, lease_until = %(lease_until)s,
    delivered_at = %(delivered_at)s, late = %(late)s, failure_reason = %(failure_reason)s,
    updated_at = %(updated_at)s
WHERE id = %(id)s AND version = %(expected_version)s;

-- name: get_event
SELECT * FROM events WHERE id = %(id)s;

-- name: events_for_user
SELECT * FROM events WHERE user_id = %(user_id)s ORDER BY target_utc, event_type;

-- name: active_events_for_user
SELECT * FROM events
WHERE user_id = %(user_id)s AND status IN ('PENDING', 'PROCESSING')
ORDER BY target_utc
FOR UPDATE;

-- name: occurrence_exists
SELECT EXISTS (
    SELECT 1 FROM events
    WHERE user_id = %(user_id)s AND event_type = %(event_type)s
      AND occurrence_date = %(occurrence_date)s
) AS found;

-- name: insert_events
-- Many new PENDING events in one statement (the import's chunk), sent as one JSON array.
INSERT INTO events (id, user_id, event_type, occurrence_date, target_utc, due_utc, timezone,
                    idempotency_key, status, version, attempts, created_at, updated_at)
SELECT e.id, e.user_id, e.event_type, e.occurrence_date, e.target_utc, e.target_utc, e.timezone,
       e.idempotency_key, 'PENDING', 1, 0, %(now)s, %(now)s
FROM jsonb_to_recordset(%(events)s::jsonb)
     AS e (id uuid, user_id uuid, event_type text, occurrence_date date, target_utc timestamptz,
           timezone text, idempotency_key text);

-- name: list_events
-- GET /events: the filters are "true" or the filter_events_* blocks that apply, joined by AND.
-- The row comparison keeps paging on the (…, target_utc, id) indexes.
SELECT * FROM events
WHERE {filters}
ORDER BY target_utc, id
LIMIT %(limit)s;

-- name: filter_events_status
status = %(status)s

-- name: filter_events_type
event_type = %(event_type)s

-- name: filter_events_user
user_id = %(user_id)s

-- name: filter_events_from
target_utc >= %(from)s

-- name: filter_events_to
target_utc < %(to)s

-- name: filter_events_late
-- Literal rather than a parameter, so that a generic plan can still use events_late_target.
late

-- name: filter_events_on_time
NOT late

-- name: filter_events_after
(target_utc, id) > (%(after_target)s, %(after_id)s)
