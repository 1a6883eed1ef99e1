-- Shared and key_shared subscriptions: receive, ack, nack, extend, and
-- their errors.  Receipts differ per server start: they are kept in a
-- table and never printed.
SELECT mq.create_topic('s.jobs', partitions => 2) > 0 AS created;
SELECT mq.subscribe('s.workers', 's.jobs', mode => 'shared', start => 'earliest');
SELECT count(*) FROM (
    SELECT mq.send('s.jobs', 'job ' || g, partition => g % 2)
      FROM generate_series(1, 6) g) s;
CREATE TABLE got (who text, receipt text, topic text, part integer,
                  off bigint, payload text, deliveries integer);
CREATE FUNCTION take(who text, n integer, vt interval DEFAULT '30 s')
RETURNS SETOF text LANGUAGE sql AS $$
    INSERT INTO got
    SELECT who, r.receipt, r.topic, r.partition, r."offset",
           r.payload_text, r.delivery_count
      FROM mq.receive('s.workers', n, vt) r
    RETURNING payload || ' #' || deliveries
$$;

-- An error's SQLSTATE and message, with the receipt it names masked.
CREATE FUNCTION err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '"[0-9]+\.[0-9.]+[0-9a-f]{8}"', '"<receipt>"');
END $$;

-- Two consumers receive different messages; nothing is left for a third.
SELECT * FROM take('a', 3) ORDER BY 1;
SELECT * FROM take('b', 10) ORDER BY 1;
SELECT count(*) FROM take('c', 10);
SELECT count(DISTINCT (part, off)) AS distinct_messages FROM got;
SELECT receipt ~ '^\d+\.\d+\.\d+\.\d+\.1\.[0-9a-f]{8}$' AS receipt_form, count(*)
  FROM got GROUP BY 1;

-- Ack one; again once it left the window is refused (its delivery can no
-- longer be told from a later one); the same receipt twice in one
-- transaction settles once.
SELECT mq.ack(receipt) FROM got WHERE payload = 'job 1';
SELECT mq.ack(receipt) FROM got WHERE payload = 'job 1';
\echo :LAST_ERROR_SQLSTATE
SELECT mq.ack(ARRAY(SELECT receipt FROM got, generate_series(1, 2)
                     WHERE payload IN ('job 2', 'job 3')));
SELECT count(*) AS recorded_acks FROM mq.share_ack;

-- An ack whose transaction rolls back leaves the message available at once.
BEGIN;
SELECT mq.ack(receipt) FROM got WHERE payload = 'job 4';
ROLLBACK;
SELECT * FROM take('c', 10);

-- A nack gives it back; the next delivery counts 2, and the old receipt
-- is stale.
SELECT mq.nack(receipt) FROM got WHERE payload = 'job 5' AND deliveries = 1;
SELECT * FROM take('c', 10);
SELECT err(format('SELECT mq.ack(%L)', receipt))
  FROM got WHERE payload = 'job 5' AND deliveries = 1;
SELECT err(format('SELECT mq.extend(%L, ''1 s'')', receipt))
  FROM got WHERE payload = 'job 5' AND deliveries = 1;
SELECT err(format('SELECT mq.nack(%L)', receipt))
  FROM got WHERE payload = 'job 5' AND deliveries = 1;
SELECT mq.extend(receipt, '5 min') > mq.clock() AS extended
  FROM got WHERE payload = 'job 5' AND deliveries = 2;
-- a nack with a delay: not delivered before it
SELECT mq.nack(receipt, delay => '10 min') FROM got WHERE payload = 'job 6';
SELECT count(*) FROM take('c', 10);

-- A lease that ends makes the message available again (mq's clock moved
-- past job 4's 30 s, not past job 5's 5 min or job 6's 10 min).
SET mq.test_clock = on;
SELECT mq.advance_clock('31 s') IS NOT NULL AS moved;
RESET mq.test_clock;
SELECT * FROM take('d', 10);

-- Errors.
SELECT mq.ack('nonsense');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.ack('1.2.3.4.5.0000000g');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.ack(NULL::text);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.ack(ARRAY[NULL]::text[]);
\echo :LAST_ERROR_SQLSTATE
SELECT err(format('SELECT mq.ack(%L)', regexp_replace(receipt, '[0-9a-f]{8}$', '00000000')))
  FROM got WHERE payload = 'job 6';
SELECT err(format('SELECT mq.ack(%L)', regexp_replace(receipt, '^(\d+\.\d+\.\d+)\.\d+', '\1.999')))
  FROM got WHERE payload = 'job 6';
SELECT count(*) FROM mq.receive('s.workers', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM mq.receive('s.workers', 10, '-1 s');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM mq.receive('s.nobody');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.subscribe('s.classic', 's.jobs', start => 'earliest');
SELECT count(*) FROM mq.receive('s.classic');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM mq.fetch('s.workers', 's.jobs');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM mq.fetch('s.workers');
SELECT mq.ack('s.workers', 's.jobs', 0, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.subscribe('s.workers', 's.jobs', mode => 'clustering');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.subscribe('s.workers', 's.jobs', mode => 'queue');
\echo :LAST_ERROR_SQLSTATE
BEGIN READ ONLY;
SELECT count(*) FROM mq.receive('s.workers');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT mq.ack(receipt) FROM got WHERE payload = 'job 6';
PREPARE TRANSACTION 'share';
\echo :LAST_ERROR_SQLSTATE
SELECT mq.drop_group('s.classic');

-- key_shared: one key to one consumer at a time, in offset order.
SELECT mq.create_topic('s.keyed') > 0 AS created;
SELECT mq.subscribe('s.keyed_workers', 's.keyed', mode => 'key_shared', start => 'earliest');
SELECT count(*) FROM (
    SELECT mq.send('s.keyed', k || '-' || g, key => k)
      FROM generate_series(1, 3) g, unnest(ARRAY['k1', 'k2']) k) s;
SELECT partition FROM mq.send('s.keyed', 'nokey-1'::text);
SELECT partition FROM mq.send('s.keyed', 'nokey-2'::text);
CREATE FUNCTION take_keyed(who text, n integer) RETURNS SETOF text
LANGUAGE sql AS $$
    INSERT INTO got
    SELECT who, r.receipt, r.topic, r.partition, r."offset",
           r.payload_text, r.delivery_count
      FROM mq.receive('s.keyed_workers', n) r
    RETURNING payload
$$;
SELECT * FROM take_keyed('k', 10) ORDER BY 1;
SELECT * FROM take_keyed('l', 10) ORDER BY 1;
SELECT mq.ack(receipt) FROM got WHERE payload = 'k1-1';
SELECT * FROM take_keyed('l', 10) ORDER BY 1;
SELECT mq.nack(receipt) FROM got WHERE payload = 'k2-1';
SELECT * FROM take_keyed('m', 10) ORDER BY 1;

-- max_retries: past it, a nack sends the message to the dead letters.
SELECT mq.create_topic('s.poison') > 0 AS created;
SELECT mq.subscribe('s.careful', 's.poison', mode => 'shared', start => 'earliest',
                    max_retries => 1);
SELECT partition FROM mq.send('s.poison', 'bad'::text);
CREATE FUNCTION take_poison() RETURNS SETOF text LANGUAGE sql AS $$
    INSERT INTO got
    SELECT 'p', r.receipt, r.topic, r.partition, r."offset",
           r.payload_text, r.delivery_count
      FROM mq.receive('s.careful', 10) r
    RETURNING payload || ' #' || deliveries
$$;
SELECT * FROM take_poison();
SELECT mq.nack(receipt) FROM got WHERE who = 'p' AND deliveries = 1;
SELECT * FROM take_poison();
SELECT mq.nack(receipt) FROM got WHERE who = 'p' AND deliveries = 2;
SELECT count(*) FROM take_poison();
SELECT origin_topic, attempts, payload_text
  FROM mq.dead_letters('s.careful');

-- Filters: messages that do not pass are skipped and settled with the rest.
SELECT mq.create_topic('s.tagged') > 0 AS created;
SELECT mq.subscribe('s.picky', 's.tagged', mode => 'shared', start => 'earliest',
                    tags => 'keep');
SELECT count(*) FROM (
    SELECT mq.send('s.tagged', 't' || g, tag => CASE WHEN g % 2 = 0 THEN 'keep' ELSE 'drop' END)
      FROM generate_series(1, 6) g) s;
SELECT payload_text, tag FROM mq.receive('s.picky', 10)
 ORDER BY "offset";
SELECT mq.drop_group('s.picky');

-- mq.shared_lag: per partition, the floor, what is leased or being
-- settled, what is acknowledged above the floor, and what is not settled.
SELECT "group", topic, partition, ack_floor, stable_offset, in_flight,
       acked_above_floor, unacked, oldest_unacked_age IS NOT NULL AS has_age
  FROM mq.shared_lag ORDER BY 1, 2, 3;

-- Seek: the partition's floor moves and its acks go; every lease of the
-- subscription ends (its receipts are void) and what is past the floors
-- and not acknowledged is delivered again, counting from 1.
SELECT mq.seek('s.workers', 's.jobs', 0, 0);
SELECT * FROM take('z', 10) ORDER BY 1;
SELECT err(format('SELECT mq.ack(%L)', receipt))
  FROM got WHERE payload = 'job 5' AND deliveries = 2;
SELECT count(*) FROM mq.seek('s.workers', 's.jobs', 'latest');
SELECT count(*) FROM take('z', 10);

-- Cleanup.
DROP FUNCTION take(text, integer, interval);
DROP FUNCTION take_keyed(text, integer);
DROP FUNCTION take_poison();
DROP FUNCTION err(text);
DROP TABLE got;
SELECT mq.drop_group('s.workers');
SELECT mq.drop_group('s.keyed_workers');
SELECT mq.drop_group('s.careful');
SELECT mq.drop_topic(name) FROM mq.topics WHERE name LIKE 's.%' ORDER BY name;
SELECT count(*) FROM mq.share_ack;
