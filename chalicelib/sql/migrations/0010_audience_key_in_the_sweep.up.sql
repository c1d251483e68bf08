-- The sweep computes an audience member's idempotency key in its own statement
-- (materialise_audience in chalicelib/sql/queries/audiences.sql), from the key's constant
-- parts passed once a batch; nothing calls audience_event_key any more.
DROP FUNCTION audience_event_key(uuid, uuid, date);
