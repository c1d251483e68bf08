DROP INDEX events_late_target;
DROP INDEX events_status_target;
DROP INDEX events_target;
DROP INDEX users_external_id_live;
ALTER TABLE users DROP COLUMN metadata, DROP COLUMN external_id;
