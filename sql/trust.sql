-- Defects of issue 15 that this file guards (the role matrix is in
-- privileges.sql): topic DDL by non-owners, segments their topic's owner
-- cannot change, a topic whose segment was dropped by hand, the size
-- limit of a whole message, sends from code that writing messages runs, and
-- operators planted in the caller's search_path.

-- Only a topic's owner, a member of that role, a superuser, or a role
-- granted manage may alter, roll or drop it; EXECUTE on the functions is
-- not enough.
CREATE ROLE t_owner;
CREATE ROLE t_other;
GRANT USAGE ON SCHEMA mq TO t_owner, t_other;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA mq TO t_owner, t_other;
SET ROLE t_owner;
SELECT mq.create_topic('t.owned') > 0 AS created;
RESET ROLE;
SET ROLE t_other;
SELECT mq.alter_topic('t.owned', retention => interval '1 second');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.roll_segment('t.owned');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.drop_topic('t.owned');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.grant_topic('t.owned', 'manage', 't_other');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT retention FROM mq.topics WHERE name = 't.owned';
SET ROLE t_owner;
SELECT mq.grant_topic('t.owned', 'manage', 't_other');
RESET ROLE;
SET ROLE t_other;
SELECT mq.alter_topic('t.owned', notify => false);
SELECT mq.grant_topic('t.owned', 'produce', 't_other');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT notify FROM mq.topics WHERE name = 't.owned';
SET ROLE t_owner;
SELECT mq.revoke_topic('t.owned', 'manage', 't_other');
RESET ROLE;
GRANT t_owner TO t_other;
SET ROLE t_other;
SELECT mq.roll_segment('t.owned');
RESET ROLE;
REVOKE t_owner FROM t_other;

-- A topic's segments are the extension owner's, whoever created the topic:
-- its owner cannot change them.  EXECUTE on create_topic is all a role
-- needs to create topics (no right on a table or on mq's sequence).
SELECT t.owner, c.relowner = (SELECT nspowner FROM pg_namespace WHERE nspname = 'mq')
       AS segment_is_the_extension_owners
  FROM mq.segment s JOIN mq.topic t USING (topic_id)
  JOIN pg_class c ON c.oid = s.relid WHERE t.name = 't.owned' ORDER BY s.segment_no LIMIT 1;
SELECT relid::regclass AS seg_owned FROM mq.segment JOIN mq.topic USING (topic_id)
 WHERE name = 't.owned' ORDER BY segment_no DESC LIMIT 1 \gset
SET ROLE t_owner;
ALTER TABLE :seg_owned ALTER COLUMN record_count TYPE bigint;
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX ON :seg_owned (partition);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM :seg_owned;
\echo :LAST_ERROR_SQLSTATE
-- ownership passes as ALTER ... OWNER TO does
SELECT mq.alter_topic_owner('t.owned', 't_other');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT mq.alter_topic_owner('t.owned', 't_other');
SELECT owner FROM mq.topics WHERE name = 't.owned';
SET ROLE t_owner;
SELECT mq.drop_topic('t.owned');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE t_other;
SELECT mq.drop_topic('t.owned');
RESET ROLE;

-- A topic whose segment table was dropped by hand can still be dropped.
SELECT mq.create_topic('t.orphan') > 0 AS created;
SELECT relid::regclass AS seg_orphan FROM mq.segment JOIN mq.topic USING (topic_id)
 WHERE name = 't.orphan' \gset
DROP TABLE :seg_orphan;
SELECT mq.drop_topic('t.orphan');
SELECT count(*) FROM mq.topics WHERE name = 't.orphan';

-- mq.max_message_size limits the whole message: payload, key, tag and
-- headers.
SELECT mq.create_topic('t.sized') > 0 AS created;
SET mq.max_message_size = '1kB';
SELECT partition FROM mq.send('t.sized', 'x'::text, tag => repeat('t', 2000));
\echo :LAST_ERROR_SQLSTATE
SELECT partition FROM mq.send('t.sized', 'x'::text, headers => jsonb_build_object('h', repeat('h', 2000)));
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM mq.send_batch('t.sized', ARRAY['x'], tags => ARRAY[repeat('t', 2000)]);
\echo :LAST_ERROR_SQLSTATE
SELECT partition FROM mq.send('t.sized', 'x'::text, tag => repeat('t', 500), partition => 0);
RESET mq.max_message_size;

-- A send from code that writing a transaction's messages runs (here an
-- index expression on the segment) is refused, and the transaction with it:
-- it would land in a buffer already written, and be lost.
CREATE FUNCTION public.t_sends(bytea) RETURNS integer
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM mq.send('t.sized', 'from the index'::text, partition => 0);
    RETURN 0;
END
$$;
SELECT mq.create_topic('t.looped') > 0 AS created;
SELECT relid::regclass AS seg_looped FROM mq.segment JOIN mq.topic USING (topic_id)
 WHERE name = 't.looped' \gset
CREATE INDEX ON :seg_looped ((public.t_sends(records)));
BEGIN;
SELECT partition FROM mq.send('t.looped', 'sent'::text, partition => 0);
COMMIT;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS nothing_written FROM mq.read('t.looped', 0, 0, 100);
SELECT count(*) AS nothing_sent_from_the_index FROM mq.read('t.sized', 0, 1, 100);
SELECT mq.drop_topic('t.looped');
SELECT mq.drop_topic('t.sized');
DROP FUNCTION public.t_sends(bytea);

-- mq's own queries run with search_path pinned to pg_catalog: an operator
-- planted in the caller's schema is never called.
CREATE SCHEMA t_evil;
CREATE FUNCTION t_evil.int4eq(integer, integer) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'planted operator called'; END $$;
CREATE OPERATOR t_evil.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = t_evil.int4eq);
CREATE FUNCTION t_evil.texteq(text, text) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'planted operator called'; END $$;
CREATE OPERATOR t_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = t_evil.texteq);
SELECT mq.create_topic('t.planted') > 0 AS created;
SET search_path = t_evil, public, pg_catalog;
SELECT partition FROM mq.send('t.planted', 'p'::text, partition => 0);
SELECT count(*) FROM mq.read('t.planted', 0, 0, 10);
SELECT mq.subscribe('t.group', 't.planted', 'earliest');
SELECT count(*) FROM mq.fetch('t.group', max => 10);
SELECT count(*) FROM mq.get_by_key('t.planted', 'k', 10);
SELECT count(*) FROM mq.get_by_time('t.planted', '-infinity', 'infinity');
SELECT mq.drop_group('t.group');
RESET search_path;
SELECT mq.drop_topic('t.planted');
DROP SCHEMA t_evil CASCADE;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA mq FROM t_owner, t_other;
REVOKE ALL ON SCHEMA mq FROM t_owner, t_other;
DROP ROLE t_other;
DROP ROLE t_owner;
