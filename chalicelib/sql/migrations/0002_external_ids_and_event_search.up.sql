-- A team's own id and data on each user (issue 15), and the indexes behind GET /events.
ALTER TABLE users
    ADD COLUMN external_id text CHECK (char_length(external_id) BETWEEN 1 AND 128),
    ADD COLUMN metadata    jsonb CHECK (jsonb_typeof(metadata) = 'object');

-- Unique among live users only: a deleted user's externalId may be given to a new one.
CREATE UNIQUE INDEX users_external_id_live ON users (external_id)
    WHERE deleted_at IS NULL AND external_id IS NOT NULL;

-- GET /events pages in (target_utc, id) order, filtered by status, type, user or lateness.
-- events_user (user_id, target_utc) already serves ?userId=; ?eventType= (two types today)
-- filters along events_target or events_status_target rather than costing every write an index.
CREATE INDEX events_target ON events (target_utc, id);
CREATE INDEX events_status_target ON events (status, target_utc, id);
CREATE INDEX events_late_target ON events (target_utc, id) WHERE late;
