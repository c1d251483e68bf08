-- name: insert_endpoint
INSERT INTO endpoints (id, destination, event_types, description, rate_limit, secrets, enabled, version,
                       created_at, updated_at)
VALUES (%(id)s, %(destination)s, %(event_types)s, %(description)s, %(rate_limit)s, %(secrets)s,
        %(enabled)s, %(version)s, %(created_at)s, %(updated_at)s);

-- name: update_endpoint
UPDATE endpoints
SET destination = %(destination)s, event_types = %(event_types)s, description = %(description)s,
    rate_limit = %(rate_limit)s, secrets = %(secrets)s, enabled = %(enabled)s, version = %(version)s,
    updated_at = %(updated_at)s
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
