--
-- Delayed messages: delay, deliver_at and delay_level, release by the
-- worker when mq's clock reaches the due time, cancel, and their errors.
-- Tests move mq's clock with mq.advance_clock() instead of sleeping.
--
\set VERBOSITY default
SELECT mq.create_topic('d.orders', partitions => 2) > 0 AS created;
SELECT mq.subscribe('d.timeouts', 'd.orders', start => 'earliest');

-- wait (at most 15 s) until a query returns true
CREATE FUNCTION pg_temp.wait_until(q text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    ok boolean;
BEGIN
    FOR i IN 1 .. 300 LOOP
        EXECUTE q INTO ok;
        IF ok THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN false;
END
$$;

-- The clock is for tests only: refused unless mq.test_clock is on.
SELECT mq.advance_clock('1 s');
SET mq.test_clock = on;
SELECT mq.advance_clock('-1 s');
SELECT mq.advance_clock('1 mon');
SELECT mq.clock() >= now() AS clock_not_behind;

-- A delayed send returns its id but no partition: it is chosen on release,
-- unless given.  Nothing is readable before it is due.
SELECT partition, duplicate FROM mq.send('d.orders', 'cancel order 1'::text,
    key => 'order-1', delay => '30 min');
SELECT partition FROM mq.send('d.orders', 'cancel order 2'::text,
    partition => 1, delay_level => 3);
SELECT partition FROM mq.send('d.orders', '{"order": 3}'::jsonb,
    deliver_at => mq.clock() + interval '2 hours');
SELECT topic, pending, next_due - mq.clock() < interval '11 s' AS soon,
       last_due - mq.clock() > interval '1 hour' AS late
  FROM mq.delayed;
SELECT count(*) AS readable FROM mq.fetch('d.timeouts');

-- A rolled-back delayed send leaves nothing, in a subtransaction too.
BEGIN;
SELECT partition FROM mq.send('d.orders', 'never'::text, delay => '1 s');
SAVEPOINT s;
SELECT partition FROM mq.send('d.orders', 'never either'::text, delay => '1 s');
ROLLBACK TO s;
SELECT pending FROM mq.delayed;
ROLLBACK;
SELECT pending FROM mq.delayed;

-- Level 3 is 10 s: after 10 s on mq's clock the worker releases it into
-- its partition with a new offset, and only that one.
SELECT mq.advance_clock('10 s') IS NOT NULL AS advanced;
SELECT partition, payload_text
  FROM mq.poll('d.timeouts', wait => '15 s');
SELECT pending FROM mq.delayed;

-- A delay in the past or of zero sends at once.
SELECT partition IS NOT NULL AS sent_now
  FROM mq.send('d.orders', 'now'::text, delay => '0 s', partition => 0);
SELECT partition IS NOT NULL AS sent_now
  FROM mq.send('d.orders', 'now too'::text, deliver_at => '2000-01-01', partition => 0);
SELECT payload_text FROM mq.poll('d.timeouts', wait => '15 s');

-- cancel_delayed removes a pending message once; released or unknown ids
-- give false.
SELECT id AS cancel_me FROM mq.send('d.orders', 'cancelled'::text, delay => '1 h') \gset
SELECT mq.cancel_delayed(:'cancel_me');
SELECT mq.cancel_delayed(:'cancel_me');
SELECT mq.cancel_delayed('00000000-0000-0000-0000-000000000000');

-- Released with their key and type, keyed messages in their key's partition.
SELECT mq.advance_clock('2 hours') IS NOT NULL AS advanced;
SELECT pg_temp.wait_until('SELECT NOT EXISTS (SELECT 1 FROM mq.delayed)');
SELECT partition = mq.partition_for(key, 2) AS key_partition, key,
       coalesce(payload_text, payload_json::text) AS payload, payload_type
  FROM mq.fetch('d.timeouts') ORDER BY key NULLS LAST;

-- A released message keeps the id its send returned, and mq.get_by_id
-- finds it although it was produced later than its id says.
SELECT id AS later FROM mq.send('d.orders', 'found later'::text, delay => '1 min') \gset
SELECT pg_sleep(0.1);
SELECT mq.advance_clock('1 min') IS NOT NULL AS advanced;
SELECT pg_temp.wait_until('SELECT NOT EXISTS (SELECT 1 FROM mq.delayed)');
SELECT payload_text
  FROM mq.get_by_id('d.orders', :'later');
SELECT count(*) AS consumed FROM mq.fetch('d.timeouts');

-- The release job reports what it did.
SELECT job, runs > 0 AS ran, errors FROM mq.worker_jobs()
 WHERE database = current_database() AND job = 'release';

-- The worker writes released messages into a segment as the segment's
-- owner, in a security-restricted operation: an index expression that the
-- owner added never runs as the worker's superuser.
CREATE ROLE d_owner;
CREATE FUNCTION public.d_not_as_superuser(bytea) RETURNS integer
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'index expression run as superuser %', current_user;
    END IF;
    RETURN 0;
END
$$;
SELECT mq.create_topic('d.owned') > 0 AS created;
DO $$
DECLARE
    seg regclass := (SELECT s.relid FROM mq.segment s JOIN mq.topic t USING (topic_id)
                      WHERE t.name = 'd.owned');
BEGIN
    EXECUTE format('ALTER TABLE %s OWNER TO d_owner', seg);
    EXECUTE format('CREATE INDEX ON %s ((public.d_not_as_superuser(records)))', seg);
END
$$;
SELECT partition FROM mq.send('d.owned', 'owned'::text, delay => '1 s');
SELECT mq.advance_clock('1 s') IS NOT NULL AS advanced;
SELECT pg_temp.wait_until($$SELECT end_offset = 1 FROM mq.partitions WHERE topic = 'd.owned'$$);
SELECT mq.drop_topic('d.owned');
DROP FUNCTION public.d_not_as_superuser(bytea);
DROP ROLE d_owner;

-- Errors.
SELECT mq.send('d.orders', 'x'::text, delay => '1 s', delay_level => 1);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.send('d.orders', 'x'::text, delay => '-1 s');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.send('d.orders', 'x'::text, delay_level => 19);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.send('d.orders', 'x'::text, delay => '41 days');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.send('d.orders', 'x'::text, deliver_at => 'infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.send('d.orders', 'x'::text, delay => '1 s', dedup_id => 'a');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.send('d.orders', 'x'::text, delay => '1 s', partition => 2);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.send('d.nowhere', 'x'::text, delay => '1 s');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.cancel_delayed(NULL);
\echo :LAST_ERROR_SQLSTATE
SET mq.max_delay = '1h';
SELECT mq.send('d.orders', 'x'::text, delay => '2 hours');
\echo :LAST_ERROR_SQLSTATE
RESET mq.max_delay;
SELECT pending FROM mq.delayed;

-- Dropping the topic drops its pending messages.
SELECT partition FROM mq.send('d.orders', 'orphan'::text, delay => '1 h');
SELECT mq.drop_group('d.timeouts');
SELECT mq.drop_topic('d.orders');
SELECT count(*) FROM mq.delayed_message;

-- Parked messages (the worker parks a message whose release keeps failing;
-- test/t/013_poison.pl): put back or discarded by id; a row parked by hand
-- here stands for one.
SELECT mq.unpark(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.discard_parked(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.unpark('00000000-0000-0000-0000-000000000000'),
       mq.discard_parked('00000000-0000-0000-0000-000000000000');
SELECT mq.create_topic('d.parked');
INSERT INTO mq.parked_message (id, topic_id, due_at, payload_type, payload,
                               sent_at, attempts, error)
SELECT '01a20a4e-3b7f-7c41-9d0e-5d2f1c0b9a11', topic_id, now(), 't',
       'stuck'::bytea, now(), 5, 'boom'
  FROM mq.topic WHERE name = 'd.parked';
SELECT topic, attempts, error FROM mq.parked;
BEGIN;
SELECT mq.unpark('01a20a4e-3b7f-7c41-9d0e-5d2f1c0b9a11');
SELECT topic, pending, next_due <= mq.clock() AS due_now FROM mq.delayed;
SELECT release_attempts, last_error FROM mq.delayed_message;
SELECT count(*) FROM mq.parked;
ROLLBACK;
SELECT mq.discard_parked('01a20a4e-3b7f-7c41-9d0e-5d2f1c0b9a11');
SELECT count(*) FROM mq.parked;
SELECT mq.drop_topic('d.parked');
