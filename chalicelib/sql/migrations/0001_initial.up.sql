-- Users and their scheduled events.
CREATE TABLE users (
    id               uuid PRIMARY KEY,
    first_name       text NOT NULL CHECK (char_length(first_name) BETWEEN 1 AND 100),
    last_name        text NOT NULL CHECK (char_length(last_name) BETWEEN 1 AND 100),
    date_of_birth    date NOT NULL,
    anniversary_date date,
    timezone         text NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    deleted_at       timestamptz
);

CREATE TABLE events (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users (id),
    event_type       text NOT NULL,
    occurrence_date  date NOT NULL,
    target_utc       timestamptz NOT NULL,
    due_utc          timestamptz NOT NULL,
    timezone         text NOT NULL,
    idempotency_key  text NOT NULL,
    status           text NOT NULL,
    version          integer NOT NULL DEFAULT 1 CHECK (version > 0),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    lease_until      timestamptz,
    delivered_at     timestamptz,
    late             boolean NOT NULL DEFAULT false,
    failure_reason   text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CONSTRAINT events_status_check CHECK (
        status IN ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'SKIPPED', 'CANCELLED')
    ),
    CONSTRAINT events_lease_check CHECK ((status = 'PROCESSING') = (lease_until IS NOT NULL)),
    CONSTRAINT events_one_per_occurrence UNIQUE (user_id, event_type, occurrence_date),
    CONSTRAINT events_idempotency_key_key UNIQUE (idempotency_key)
);

-- The sweeper's question: "PENDING and due", and "PROCESSING with an expired lease".
CREATE INDEX events_pending_due ON events (due_utc) WHERE status = 'PENDING';
CREATE INDEX events_processing_lease ON events (lease_until) WHERE status = 'PROCESSING';
CREATE INDEX events_user ON events (user_id, target_utc);
