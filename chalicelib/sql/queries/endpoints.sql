-- name: insert_endpoint
INSERT INTO endpoints (id, destination, event_types, description, rate_limit, secrets, enabled, version,
                       created_at, updated_at)
VALUES (%(id)s, %(destination)s, %(event_types)s, %(description)s, %(rate_limit)s, %(secrets)s,
        %(enabled)s, %(version)s, %(created_at)s, %(updated_at)s);

-- name: update_endpoint
UPDATE endpoints
SET destination = %(destination)s, event_types = %(event_types)s, description = %(description)s,
    rate_limit = %(rate_limit)s, secrets = %(secrets)s, enabled = %(enabled)s, version = %(version)s,
    failing_since = %(failing_since)s, disabled_at = %(disabled_at)s, updated_at = %(updated_at)s
WHERE id = %(id)s AND deleted_at IS NULL;

-- name: get_endpoint
SELECT * FROM endpoints WHERE id = %(id)s AND deleted_at IS NULL;

-- name: lock_endpoint
SELECT * FROM endpoints WHERE id = %(id)s AND deleted_at IS NULL FOR UPDATE;

-- name: delete_endpoint
UPDATE endpoints SET deleted_at = %(now)s, updated_at = %(now)s
WHERE id = %(id)s AND deleted_at IS NULL;

-- name: list_endpoints
SELECT * FROM endpoints
WHERE deleted_at IS NULL AND (%(after)s::uuid IS NULL OR id > %(after)s::uuid)
ORDER BY id
LIMIT %(limit)s;

-- name: live_endpoints
-- What the worker fans out to: every live endpoint (a team has a handful), in id order.
SELECT * FROM endpoints WHERE deleted_at IS NULL ORDER BY id;

-- name: add_rates
-- A row for each rate-limited endpoint that has none yet (waits for a concurrent first insert).
INSERT INTO endpoint_rates (endpoint_id, tat)
SELECT id, %(now)s FROM unnest(%(ids)s::uuid[]) AS id
ON CONFLICT (endpoint_id) DO NOTHING;

-- name: lock_rates
-- Locked in id order: two workers never deadlock.
SELECT endpoint_id, tat FROM endpoint_rates WHERE endpoint_id = ANY(%(ids)s) ORDER BY endpoint_id FOR UPDATE;

-- name: set_rates
UPDATE endpoint_rates AS r SET tat = s.tat
FROM unnest(%(ids)s::uuid[], %(tats)s::timestamptz[]) AS s(id, tat)
WHERE r.endpoint_id = s.id;

-- name: mark_endpoint_failing
-- The first failure after a success (or since it was created or enabled); once only.
UPDATE endpoints SET failing_since = %(at)s
WHERE id = %(id)s AND failing_since IS NULL AND enabled AND deleted_at IS NULL
RETURNING id;

-- name: mark_endpoint_healthy
UPDATE endpoints SET failing_since = NULL
WHERE id = %(id)s AND failing_since IS NOT NULL AND deleted_at IS NULL;

-- name: disable_failing_endpoint
-- Failing since the cutoff or before: disabled, once.
UPDATE endpoints SET enabled = false, disabled_at = %(now)s, updated_at = %(now)s, version = version + 1
WHERE id = %(id)s AND enabled AND failing_since <= %(cutoff)s AND deleted_at IS NULL
RETURNING id;

-- name: finished_events_of_types
-- What a recovery sends again: the finished events since an instant, of the given types (NULL:
-- every type), a page at a time in (target_utc, id) order. An enable's asks only for those
-- finished (last changed) since the endpoint was disabled (finished_since).
SELECT * FROM events
WHERE status IN ('COMPLETED', 'FAILED') AND target_utc >= %(since)s
  AND (%(types)s::text[] IS NULL OR event_type = ANY(%(types)s::text[]))
  AND (%(finished_since)s::timestamptz IS NULL OR updated_at >= %(finished_since)s)
  AND (target_utc, id) > (%(after_target)s, %(after_id)s::uuid)
ORDER BY target_utc, id
LIMIT %(limit)s;

-- name: mark_delivered_late
-- A recovery's late delivery to one of its endpoints (after enable or recover): the event
-- counts as late, delivered when its last endpoint got it. Its state does not change, so
-- neither do its version and updated_at.
UPDATE events AS e SET late = true, delivered_at = GREATEST(e.delivered_at, d.at)
FROM unnest(%(ids)s::uuid[], %(ats)s::timestamptz[]) AS d (id, at)
WHERE e.id = d.id AND e.status = 'COMPLETED';
