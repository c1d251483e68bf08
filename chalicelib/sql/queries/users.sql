-- name: insert_user
INSERT INTO users (id, first_name, last_name, date_of_birth, anniversary_date, timezone,
                   created_at, updated_at)
VALUES (%(id)s, %(first_name)s, %(last_name)s, %(date_of_birth)s, %(anniversary_date)s,
        %(timezone)s, %(created_at)s, %(updated_at)s);

-- name: get_user
SELECT * FROM users WHERE id = %(id)s AND deleted_at IS NULL;

-- name: lock_user
-- Every transaction that creates or moves a user's events holds this lock first, so a
-- reschedule, a delete and a worker finishing an event never interleave.
SELECT * FROM users WHERE id = %(id)s AND deleted_at IS NULL FOR UPDATE;

-- name: update_user
UPDATE users
SET first_name = %(first_name)s, last_name = %(last_name)s, date_of_birth = %(date_of_birth)s,
    anniversary_date = %(anniversary_date)s, timezone = %(timezone)s, updated_at = %(updated_at)s
WHERE id = %(id)s AND deleted_at IS NULL;

-- name: delete_user
UPDATE users SET deleted_at = %(now)s, updated_at = %(now)s
WHERE id = %(id)s AND deleted_at IS NULL;

-- name: list_users
SELECT * FROM users
WHERE deleted_at IS NULL AND (%(after)s::uuid IS NULL OR id > %(after)s::uuid)
ORDER BY id
LIMIT %(limit)s;
