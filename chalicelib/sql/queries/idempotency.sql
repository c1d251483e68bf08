-- name: claim_idempotency_key
-- Waits while another transaction holds the same key uncommitted; then inserts nothing if that
-- one committed (the caller reads its row) or inserts if it rolled back.
INSERT INTO idempotency_keys (caller, idempotency_key, fingerprint, created_at)
VALUES (%(caller)s, %(key)s, %(fingerprint)s, %(now)s)
ON CONFLICT (caller, idempotency_key) DO NOTHING;

-- name: lock_idempotency_key
SELECT fingerprint, created_at, response_status, response_headers, response_body
FROM idempotency_keys
WHERE caller = %(caller)s AND idempotency_key = %(key)s
FOR UPDATE;

-- name: renew_idempotency_key
UPDATE idempotency_keys
SET fingerprint = %(fingerprint)s, created_at = %(now)s,
    response_status = NULL, response_headers = NULL, response_body = NULL
WHERE caller = %(caller)s AND idempotency_key = %(key)s;

-- name: keep_idempotent_response
UPDATE idempotency_keys
SET response_status = %(status)s, response_headers = %(headers)s, response_body = %(body)s
WHERE caller = %(caller)s AND idempotency_key = %(key)s;

-- name: forget_idempotency_keys
-- A bounded batch along idempotency_keys_created; a key a request is renewing right now is
-- skipped, not waited for.
DELETE FROM idempotency_keys
WHERE (caller, idempotency_key) IN (
    SELECT caller, idempotency_key FROM idempotency_keys
    WHERE created_at < %(created_before)s
    ORDER BY created_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
);
