-- "Claimed, but its message never reached SQS" gets a column of its own (issue 23): until now
-- a lease of 1970-01-01 said it, so `lease_until` did two jobs. An unsent claim keeps a real
-- lease; the next sweep sends it first, under a new version (`resend_unsent`). Claims marked
-- the old way become unsent ones, with the lease that ran out when they fell due.
--
-- No CHECK ties it to PROCESSING: during a canary, and after a code rollback, the code before
-- this migration moves rows without knowing the column, and a COMPLETED row left `unsent` must
-- not fail its write. Every reader asks for `status = 'PROCESSING' AND unsent`; the domain's
-- transitions end it (Event._to, Event.defer).
ALTER TABLE events ADD COLUMN unsent boolean NOT NULL DEFAULT false;
UPDATE events SET unsent = true, lease_until = due_utc
WHERE status = 'PROCESSING' AND lease_until = timestamptz '1970-01-01 00:00:00+00';

-- The sweep's first question, oldest first.
CREATE INDEX events_unsent_due ON events (due_utc) WHERE unsent;
