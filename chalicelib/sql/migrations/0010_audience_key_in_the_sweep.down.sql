-- audience_event_key as 0007 created it.
CREATE FUNCTION audience_event_key(user_id uuid, schedule_id uuid, local_date date) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT encode(set_byte(set_byte(h, 6, (get_byte(h, 6) & 15) | 48), 8, (get_byte(h, 8) & 63) | 128), 'hex')::uuid::text
    FROM (SELECT decode(md5('\x6f1c2d1e4b7a4f559f0e5e7d3c9a1b20'::bytea
                             || convert_to(user_id::text || '/audience/' || schedule_id::text || '/'
                                           || to_char(local_date, 'YYYY-MM-DD'), 'UTF8')), 'hex') AS h) AS digest
$$;
