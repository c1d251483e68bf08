-- Idempotency-Key on the POSTs that create (issue 20): each caller's keys, the request each was
-- first used for (a digest of method, path and body) and the answer to replay. A key's row is
-- written in the transaction that creates the record, its answer before that one commits: a
-- committed row always has its answer (the NULLs are seen only by the transaction writing it).
-- 0005, not 0004: the schedules branch takes 0004; the runner applies whichever is missing.
CREATE TABLE idempotency_keys (
    caller           text NOT NULL,
    idempotency_key  text NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
    fingerprint      text NOT NULL,
    created_at       timestamptz NOT NULL,
    response_status  integer,
    response_headers jsonb,
    response_body    text,
    PRIMARY KEY (caller, idempotency_key),
    CONSTRAINT idempotency_keys_response_whole CHECK (
        (response_status IS NULL) = (response_body IS NULL)
        AND (response_status IS NULL) = (response_headers IS NULL)
    )
);

-- The sweep forgets keys older than 24 hours, oldest first, a bounded batch a run.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
