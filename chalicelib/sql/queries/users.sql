-- name: insert_user
INSERT INTO users (id, first_name, last_name, date_of_birth, anniversary_date, timezone,
                   external_id, metadata, created_at, updated_at)
VALUES (%(id)s, %(first_name)s, %(last_name)s, %(date_of_birth)s, %(anniversary_date)s,
        %(timezone)s, %(external_id)s, %(metadata)s, %(created_at)s, %(updated_at)s);

-- name: get_user
SELECT * FROM users WHERE id = %(id)s AND deleted_at IS NULL;

-- name: lock_user
-- Every transaction that creates or moves a user's events holds this lock first, so a
-- reschedule, a delete and a worker finishing an event never interleave.
SELECT * FROM users WHERE id = %(id)s AND deleted_at IS NULL FOR UPDATE;

-- name: update_user
UPDATE users
SET first_name = %(first_name)s, last_name = %(last_name)s, date_of_birth = %(date_of_birth)s,
    anniversary_date = %(anniversary_date)s, timezone = %(timezone)s,
    external_id = %(external_id)s, metadata = %(metadata)s, updated_at = %(updated_at)s,
    managed_by_import = %(managed_by_import)s
WHERE id = %(id)s AND deleted_at IS NULL;

-- name: delete_user
UPDATE users SET deleted_at = %(now)s, updated_at = %(now)s
WHERE id = %(id)s AND deleted_at IS NULL;

-- name: list_users
SELECT * FROM users
WHERE deleted_at IS NULL AND (%(after)s::uuid IS NULL OR id > %(after)s::uuid)
ORDER BY id
LIMIT %(limit)s;

-- name: user_by_external_id
SELECT * FROM users WHERE external_id = %(external_id)s AND deleted_at IS NULL;

-- name: lock_users_by_external_ids
-- The import's one read of a chunk: the live users holding these externalIds, locked in id
-- order (as every multi-user lock is taken) for the updates that follow.
SELECT * FROM users
WHERE external_id = ANY(%(external_ids)s) AND deleted_at IS NULL
ORDER BY id
FOR UPDATE;

-- name: insert_users
-- The import's users of one chunk in one statement, sent as one JSON array (psycopg builds
-- one JSON text far faster than nine typed arrays). A user whose externalId another
-- transaction has just taken is not inserted (and not returned): the import then retries.
-- Each is the import's (managed_by_import): a later import may update it.
INSERT INTO users (id, first_name, last_name, date_of_birth, anniversary_date, timezone,
                   external_id, metadata, created_at, updated_at, managed_by_import)
SELECT u.id, u.first_name, u.last_name, u.date_of_birth, u.anniversary_date, u.timezone,
       u.external_id, u.metadata, %(now)s, %(now)s, true
FROM jsonb_to_recordset(%(users)s::jsonb)
     AS u (id uuid, first_name text, last_name text, date_of_birth date, anniversary_date date,
           timezone text, external_id text, metadata jsonb)
ON CONFLICT (external_id) WHERE deleted_at IS NULL AND external_id IS NOT NULL DO NOTHING
RETURNING id;
