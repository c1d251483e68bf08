-- Back to the marker the code before 0006 reads: an unsent claim's lease is 1970-01-01.
UPDATE events SET lease_until = timestamptz '1970-01-01 00:00:00+00' WHERE status = 'PROCESSING' AND unsent;
DROP INDEX events_unsent_due;
ALTER TABLE events DROP COLUMN unsent;
