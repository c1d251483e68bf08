-- The team's schedules (issue 20): each occurrence is an event row with its schedule's id.
CREATE TABLE schedules (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id),
    event_type   text NOT NULL CHECK (event_type ~ '^[a-z][a-z0-9_.-]{0,63}$'),
    payload      jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    start_date   date NOT NULL,
    local_time   time NOT NULL,
    timezone     text,
    recurrence   text,
    invalid_date text NOT NULL CHECK (invalid_date IN ('omit', 'backward', 'forward')),
    dst_gap      text NOT NULL CHECK (dst_gap IN ('shift', 'skip')),
    dst_overlap  text NOT NULL CHECK (dst_overlap IN ('first', 'second')),
    status       text NOT NULL CHECK (status IN ('active', 'paused', 'ended')),
    paused_at    timestamptz,
    version      integer NOT NULL CHECK (version > 0),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    deleted_at   timestamptz,
    CONSTRAINT schedules_paused_check CHECK ((status = 'paused') = (paused_at IS NOT NULL))
);
CREATE INDEX schedules_user ON schedules (user_id, id) WHERE deleted_at IS NULL;

ALTER TABLE events ADD COLUMN schedule_id uuid REFERENCES schedules (id);

-- One event per (user, built-in type, local date) and per (schedule, user, local date). A
-- CANCELLED event takes no date: a paused schedule's cancelled occurrence can be delivered on
-- resume, under the same idempotency key (so a success already in the ledger is not repeated).
ALTER TABLE events DROP CONSTRAINT events_one_per_occurrence;
ALTER TABLE events DROP CONSTRAINT events_idempotency_key_key;
CREATE UNIQUE INDEX events_one_per_occurrence ON events (user_id, event_type, occurrence_date)
    WHERE schedule_id IS NULL AND status <> 'CANCELLED';
CREATE UNIQUE INDEX events_one_per_schedule_occurrence ON events (schedule_id, user_id, occurrence_date)
    WHERE schedule_id IS NOT NULL AND status <> 'CANCELLED';
CREATE UNIQUE INDEX events_idempotency_key_key ON events (idempotency_key) WHERE status <> 'CANCELLED';
-- GET /events?scheduleId= and a schedule's next occurrence.
CREATE INDEX events_schedule_target ON events (schedule_id, target_utc, id) WHERE schedule_id IS NOT NULL;
