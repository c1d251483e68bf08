-- name: insert_events
-- New events, many in one statement, sent as one JSON array (psycopg builds one JSON text far
-- faster than typed arrays): a new user's, an import chunk's, the worker's next occurrences.
INSERT INTO events (id, user_id, event_type, occurrence_date, target_utc, due_utc, timezone,
                    idempotency_key, status, version, attempts, lease_until, unsent, delivered_at,
                    late, failure_reason, created_at, updated_at, schedule_id)
SELECT e.id, e.user_id, e.event_type, e.occurrence_date, e.target_utc, e.due_utc, e.timezone,
       e.idempotency_key, e.status, e.version, e.attempts, e.lease_until, e.unsent, e.delivered_at,
       e.late, e.failure_reason, e.created_at, e.updated_at, e.schedule_id
FROM jsonb_to_recordset(%(events)s::jsonb)
     AS e (id uuid, user_id uuid, event_type text, occurrence_date date, target_utc timestamptz,
           due_utc timestamptz, timezone text, idempotency_key text, status text, version integer,
           attempts integer, lease_until timestamptz, unsent boolean, delivered_at timestamptz,
           late boolean, failure_reason text, created_at timestamptz, updated_at timestamptz,
           schedule_id uuid);

-- name: update_event
-- Optimistic concurrency: the write lands only on the version the caller read.
UPDATE events
SET occurrence_date = %(occurrence_date)s, target_utc = %(target_utc)s, due_utc = %(due_utc)s,
    timezone = %(timezone)s, idempotency_key = %(idempotency_key)s, status = %(status)s,
    version = %(version)s, attempts = %(attempts)s, lease_until = %(lease_until)s,
    unsent = %(unsent)s, delivered_at = %(delivered_at)s, late = %(late)s, failure_reason = %(failure_reason)s,
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

-- name: filter_events_schedule
schedule_id = %(schedule_id)s

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
