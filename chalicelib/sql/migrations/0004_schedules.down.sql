-- Schedules go, and their events with them (they did not exist before). Built-in events
-- stay, with their keys; where a CANCELLED event shares its key or date with another (which
-- this version allowed), the one kept is the live one, else the oldest.
DELETE FROM events WHERE schedule_id IS NOT NULL;
DELETE FROM events AS e
USING events AS o
WHERE e.idempotency_key = o.idempotency_key AND e.id <> o.id
  AND (e.status = 'CANCELLED' AND o.status <> 'CANCELLED'
       OR (e.status = 'CANCELLED') = (o.status = 'CANCELLED') AND (e.created_at, e.id) > (o.created_at, o.id));
DROP INDEX events_schedule_target;
DROP INDEX events_idempotency_key_key;
DROP INDEX events_one_per_schedule_occurrence;
DROP INDEX events_one_per_occurrence;
ALTER TABLE events DROP COLUMN schedule_id;
ALTER TABLE events ADD CONSTRAINT events_idempotency_key_key UNIQUE (idempotency_key);
ALTER TABLE events ADD CONSTRAINT events_one_per_occurrence UNIQUE (user_id, event_type, occurrence_date);
DROP TABLE schedules;
