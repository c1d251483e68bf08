-- Endpoints (issue 22): where a team's events go besides the built-in WEBHOOK_URL. A deleted
-- endpoint keeps its row (deleted_at), so the ledger's attempts still name something.
-- 0008: 0006 and 0007 are taken by other branches; the runner applies whichever is missing.
CREATE TABLE endpoints (
    id          uuid PRIMARY KEY,
    destination jsonb NOT NULL,
    event_types text[],
    description text NOT NULL DEFAULT '',
    rate_limit  integer CHECK (rate_limit BETWEEN 1 AND 10000),
    -- Newest first: [{"value": "whsec_…", "createdAt": …, "expiresAt": … | null}].
    secrets     jsonb NOT NULL,
    enabled     boolean NOT NULL DEFAULT true,
    -- Since when every delivery to it has failed (NULL: its last one succeeded); it is disabled
    -- (disabled_at) once that has lasted ENDPOINT_DISABLE_AFTER.
    failing_since timestamptz,
    disabled_at timestamptz,
    version     integer NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    deleted_at  timestamptz
);

-- The worker reads the live endpoints every batch; the list pages through them by id.
CREATE INDEX endpoints_live ON endpoints (id) WHERE deleted_at IS NULL;

-- Each rate-limited endpoint's next free slot, shared by every worker container (GCRA's
-- "theoretical arrival time"; domain/endpoints.take_slots): a row lock per endpoint per batch.
CREATE TABLE endpoint_rates (
    endpoint_id uuid PRIMARY KEY REFERENCES endpoints (id) ON DELETE CASCADE,
    tat         timestamptz NOT NULL
);
