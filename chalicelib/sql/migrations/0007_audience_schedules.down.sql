-- Audience schedules go, with their events and progress (they did not exist before).
DROP FUNCTION audience_event_key(uuid, uuid, date);
DROP TABLE audience_progress;
DELETE FROM events WHERE schedule_id IN (SELECT id FROM schedules WHERE user_id IS NULL);
DELETE FROM schedules WHERE user_id IS NULL;
DROP INDEX users_metadata;
DROP INDEX users_zone;
DROP INDEX schedules_audience;
DROP INDEX schedules_live;
ALTER TABLE schedules DROP CONSTRAINT schedules_user_or_audience;
ALTER TABLE schedules DROP COLUMN audience;
ALTER TABLE schedules ALTER COLUMN user_id SET NOT NULL;
