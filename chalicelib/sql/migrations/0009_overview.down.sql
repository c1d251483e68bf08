DROP TABLE last_sweep;
DROP INDEX events_finished;
