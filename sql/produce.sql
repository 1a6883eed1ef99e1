--
-- mq.send: payload types, partition choice, transactions, limits.
--

SELECT mq.create_topic('events', partitions => 4) > 0 AS created;

-- The three payload types come back as sent.
SELECT partition FROM mq.send('events', 'plain text'::text, partition => 0);
SELECT partition FROM mq.send('events', '{"b": [1, 2], "a": "x"}'::jsonb, partition => 0);
SELECT partition FROM mq.send('events', '\xdeadbeef'::bytea, partition => 0);
SELECT "offset", payload_type, payload_json, payload_text, payload_bytes
  FROM mq.read('events', 0);

-- The text variants (which untyped literals resolve to, as drivers' untyped
-- parameters do) take a payload that is a whole JSON object or array, JSON
-- whitespace around it allowed, for a JSON message.  Scalars and what is
-- not valid JSON stay text.  This is the rule for an explicit ::text too.
-- A delivered row has the payload in the column of its type only.
SELECT mq.create_topic('payloads') > 0 AS created;
SELECT count(*) AS sent FROM (
    SELECT FROM mq.send('payloads', '{"a": 1}')
    UNION ALL SELECT FROM mq.send('payloads', ' [1, 2] ')
    UNION ALL SELECT FROM mq.send('payloads', 'hello')
    UNION ALL SELECT FROM mq.send('payloads', '42')
    UNION ALL SELECT FROM mq.send('payloads', '"str"')
    UNION ALL SELECT FROM mq.send('payloads', '[not json')
    UNION ALL SELECT FROM mq.send('payloads', '{"a":')
    UNION ALL SELECT FROM mq.send('payloads', '{"a":1}'::text)) s;
SELECT "offset", payload_type, payload_json, payload_text, payload_bytes
  FROM mq.read('payloads', 0) ORDER BY "offset";

-- What jsonb refuses (\u0000, a lone surrogate) stays text, and so does a
-- text nested deeper than 100 levels; 100 levels is JSON.
SELECT end_offset AS before FROM mq.partitions WHERE topic = 'payloads' \gset
SELECT count(*) AS sent FROM (
    SELECT FROM mq.send('payloads', '{"a": "\u0000"}')
    UNION ALL SELECT FROM mq.send('payloads', '["\ud800"]')
    UNION ALL SELECT FROM mq.send('payloads', '["\ud83d\ude00"]')
    UNION ALL SELECT FROM mq.send('payloads', repeat('[', 100) || repeat(']', 100))
    UNION ALL SELECT FROM mq.send('payloads', repeat('[', 101) || repeat(']', 101))) s;
SELECT "offset" - :before AS rel_offset, payload_type,
       left(coalesce(payload_json::text, payload_text), 20) AS payload
  FROM mq.read('payloads', 0, :before) ORDER BY "offset";

-- json is kept as it was written (key order, spaces, duplicate keys);
-- jsonb comes as jsonb's text; bytea in payload_bytes.
SELECT end_offset AS before FROM mq.partitions WHERE topic = 'payloads' \gset
SELECT partition FROM mq.send('payloads', '{"b":2,  "a" : 1, "b": 3}'::json);
SELECT partition FROM mq.send('payloads', '{"b":2,  "a" : 1, "b": 3}'::jsonb);
SELECT partition FROM mq.send('payloads', '\xdead'::bytea);
SELECT "offset" - :before AS rel_offset, payload_type, payload_json, payload_text,
       payload_bytes
  FROM mq.read('payloads', 0, :before) ORDER BY "offset";

-- send_batch: json[] kept as written; in a text[] each payload is JSON or
-- text by the same rule.
SELECT end_offset AS before FROM mq.partitions WHERE topic = 'payloads' \gset
SELECT count(*) FROM mq.send_batch('payloads', ARRAY['{"a":5}', '[ 6 ]']::json[]);
SELECT count(*) FROM mq.send_batch('payloads', ARRAY['{"a": 7}', 'plain']);
SELECT "offset" - :before AS rel_offset, payload_type, payload_json, payload_text,
       payload_bytes
  FROM mq.read('payloads', 0, :before) ORDER BY "offset";

-- A half message of json shows its payload in the view's payload_json,
-- and is delivered as JSON once committed; an untyped JSON document is
-- JSON there too.
SELECT end_offset AS before FROM mq.partitions WHERE topic = 'payloads' \gset
SELECT mq.prepare('payloads', '{"a":8}'::json, 'p.shop') AS half_json \gset
SELECT mq.prepare('payloads', '{"a": 9}', 'p.shop') AS half_text \gset
SELECT handle = :'half_json' AS is_json_one, payload_type, payload_json,
       payload_text, payload_bytes
  FROM mq.half_messages WHERE topic = 'payloads' ORDER BY prepared_at, 1 DESC;
SELECT mq.commit_prepared(:'half_json');
SELECT mq.commit_prepared(:'half_text');
SELECT "offset" - :before AS rel_offset, payload_type, payload_json, payload_text
  FROM mq.read('payloads', 0, :before) ORDER BY "offset";

-- Consumers use the JSON directly: mq.fetch and mq.receive (a shared
-- subscription) return payload_json, no conversion needed.
SELECT mq.subscribe('p.readers', 'payloads', start => 'earliest');
SELECT "offset", payload_json ->> 'a' AS a
  FROM mq.fetch('p.readers', max => 100) WHERE payload_json ->> 'a' IS NOT NULL
 ORDER BY "offset";
SELECT mq.subscribe('p.workers', 'payloads', mode => 'shared', start => 'earliest');
SELECT "offset", payload_json ->> 'a' AS a
  FROM mq.receive('p.workers', 100) WHERE payload_json ->> 'a' IS NOT NULL
 ORDER BY "offset";

-- A payload that is not JSON is refused by the json variant (as the json
-- type refuses it), and nothing is sent.
SELECT end_offset AS before FROM mq.partitions WHERE topic = 'payloads' \gset
SELECT * FROM mq.send('payloads', '{"a":'::json);
\echo :LAST_ERROR_SQLSTATE
PREPARE send_json(json) AS SELECT partition FROM mq.send('payloads', $1);
EXECUTE send_json('{"a": 10}');
EXECUTE send_json('{"a":');
\echo :LAST_ERROR_SQLSTATE
DEALLOCATE send_json;
SELECT end_offset - :before AS sent FROM mq.partitions WHERE topic = 'payloads';
SELECT mq.drop_group('p.readers');
SELECT mq.drop_group('p.workers');
SELECT mq.drop_topic('payloads');

-- Key, tag and headers are stored; ids are UUIDv7, increasing.
SELECT id AS id1 FROM mq.send('events', 'a'::text, key => 'k', tag => 'TagA',
                              headers => '{"trace": "t1"}', partition => 1) \gset
SELECT id AS id2 FROM mq.send('events', 'b'::text, partition => 1) \gset
SELECT "offset", key, tag, headers, id = :'id1' AS first_id
  FROM mq.read('events', 1);
SELECT :'id1'::uuid < :'id2'::uuid AS ids_increase,
       substr(:'id1', 15, 1) AS uuid_version;

-- A key always goes to the partition Kafka would pick.
SELECT partition = mq.partition_for('customer-42', 4) AS kafka_partition
  FROM mq.send('events', 'x'::text, key => 'customer-42');
SELECT count(*) AS sent, count(DISTINCT s.partition) AS partitions_used
  FROM generate_series(1, 10) g,
       LATERAL mq.send('events', g::text, key => 'customer-42') s;

-- Keyless messages of one transaction stick to one partition; the next
-- transaction moves on to another.
BEGIN;
SELECT count(*) AS sent, count(DISTINCT s.partition) AS partitions_in_xact
  FROM generate_series(1, 10) g, LATERAL mq.send('events', g::text) s;
SELECT partition AS sticky1 FROM mq.send('events', 'x'::text) \gset
COMMIT;
SELECT partition <> :sticky1 AS moved_on FROM mq.send('events', 'x'::text);

-- Nothing is visible before commit; offsets are assigned at commit.
SELECT end_offset AS before FROM mq.partitions WHERE topic = 'events' AND partition = 2 \gset
BEGIN;
SELECT partition FROM mq.send('events', 'pending'::text, partition => 2);
SELECT end_offset = :before AS no_offset_yet
  FROM mq.partitions WHERE topic = 'events' AND partition = 2;
SELECT count(*) AS visible_before_commit FROM mq.read('events', 2, :before);
COMMIT;
SELECT count(*) AS visible_after_commit FROM mq.read('events', 2, :before);

-- Rollback, ROLLBACK TO SAVEPOINT and an error leave no visible trace.
SELECT end_offset AS before FROM mq.partitions WHERE topic = 'events' AND partition = 3 \gset
BEGIN;
SELECT partition FROM mq.send('events', 'rolled back'::text, partition => 3);
ROLLBACK;
BEGIN;
SELECT partition FROM mq.send('events', 'kept'::text, partition => 3);
SAVEPOINT s;
SELECT partition FROM mq.send('events', 'discarded'::text, partition => 3);
ROLLBACK TO SAVEPOINT s;
SAVEPOINT s2;
SELECT partition FROM mq.send('events', 'released'::text, partition => 3);
RELEASE SAVEPOINT s2;
COMMIT;
BEGIN;
SELECT partition FROM mq.send('events', 'failed'::text, partition => 3);
SELECT 1 / 0;
COMMIT;
SELECT payload_text FROM mq.read('events', 3, :before);

-- Past mq.send_buffer_limit the buffer is written early: the range is in
-- flight (holding the stable offset) until the transaction ends.
SET mq.send_buffer_limit = '64kB';
BEGIN;
SELECT count(*) FROM generate_series(1, 100) g,
       LATERAL mq.send('events', repeat('x', 1000) || g, partition => 2);
SELECT inflight, stable_offset < end_offset AS stable_held
  FROM mq.partitions WHERE topic = 'events' AND partition = 2;
COMMIT;
SELECT inflight, stable_offset = end_offset AS stable_released
  FROM mq.partitions WHERE topic = 'events' AND partition = 2;
RESET mq.send_buffer_limit;

-- ... and in a subtransaction, only that subtransaction's messages are
-- written early, so rolling it back still discards them.
SET mq.send_buffer_limit = '64kB';
SELECT end_offset AS before FROM mq.partitions WHERE topic = 'events' AND partition = 1 \gset
BEGIN;
SELECT partition FROM mq.send('events', 'outer'::text, partition => 1);
SAVEPOINT s;
SELECT count(*) FROM generate_series(1, 100) g,
       LATERAL mq.send('events', repeat('y', 1000) || g, partition => 1);
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT payload_text FROM mq.read('events', 1, :before);
RESET mq.send_buffer_limit;

-- An early write inside a subtransaction never puts its messages ahead
-- of older messages of the same partition buffered outside it.
SET mq.send_buffer_limit = '64kB';
SELECT end_offset AS before FROM mq.partitions WHERE topic = 'events' AND partition = 1 \gset
BEGIN;
SELECT partition FROM mq.send('events', 'sent first'::text, partition => 1);
SAVEPOINT s;
SELECT partition FROM mq.send('events', 'sent second' || repeat(' ', 70000), partition => 1);
RELEASE SAVEPOINT s;
COMMIT;
SELECT "offset" - :before AS rel_offset, left(payload_text, 11)
  FROM mq.read('events', 1, :before);

-- A transaction that writes early forty times holds one in-flight slot
-- in the partition, not forty (the ring has 32).
BEGIN;
SELECT count(*) FROM generate_series(1, 40) g,
       LATERAL mq.send('events', g || repeat(' ', 70000), partition => 2);
SELECT inflight FROM mq.partitions WHERE topic = 'events' AND partition = 2;
COMMIT;

-- A loop of subtransactions that each write early (a PL/pgSQL exception
-- block per message) holds one in-flight slot per partition, not one per
-- write: it finishes, and its messages come in order.
SELECT end_offset AS before FROM mq.partitions WHERE topic = 'events' AND partition = 1 \gset
DO $$
BEGIN
    FOR i IN 1..60 LOOP
        BEGIN
            PERFORM mq.send('events', i || repeat(' ', 70000), partition => 1);
        EXCEPTION WHEN others THEN
            RAISE;
        END;
    END LOOP;
END $$;
SELECT count(*) AS messages,
       bool_and(rtrim(payload_text)::int = "offset" - :before + 1) AS in_order
  FROM mq.read('events', 1, :before);
RESET mq.send_buffer_limit;

-- The durable high mark runs ahead of the end offset.
SELECT partition, high_mark > end_offset AS ahead
  FROM mq.partitions WHERE topic = 'events' ORDER BY partition;

-- send_batch: one message per payload, with the key, tag and headers at
-- the same position; ids and partitions come back in order.
SELECT mq.create_topic('batch', partitions => 3) > 0 AS created;
SELECT count(*) AS sent, count(DISTINCT id) AS ids,
       bool_and(partition = mq.partition_for('k' || (n % 5), 3)) AS key_partitions
  FROM mq.send_batch('batch',
                     ARRAY(SELECT 'm' || g FROM generate_series(1, 1000) g),
                     keys => ARRAY(SELECT 'k' || (g % 5) FROM generate_series(1, 1000) g))
       WITH ORDINALITY AS b(id, partition, duplicate, n);
SELECT sum(end_offset) AS stored FROM mq.partitions WHERE topic = 'batch';
SELECT partition, count(*) FROM mq.send_batch('batch', ARRAY['{"a": 1}', '{"b": 2}']::jsonb[],
                                             tags => ARRAY['TagA', NULL],
                                             headers => ARRAY['{"h": 1}', NULL]::jsonb[],
                                             partition => 0)
 GROUP BY partition;
SELECT key, tag, headers, payload_json
  FROM mq.read('batch', 0, 0, 100000) WHERE payload_type = 'jsonb' ORDER BY "offset";
SELECT count(*) FROM mq.send_batch('batch', ARRAY['\x00', '\x01']::bytea[]);
-- dedup_ids: repeats within the batch and of earlier sends are flagged
-- and not sent again.
SELECT partition, duplicate
  FROM mq.send_batch('batch', ARRAY['a', 'b', 'c', 'd'], partition => 1,
                     dedup_ids => ARRAY['x1', 'x2', 'x1', NULL]);
SELECT duplicate FROM mq.send_batch('batch', ARRAY['again'], dedup_ids => ARRAY['x2']);
SELECT count(*) AS stored_in_partition_1 FROM mq.read('batch', 1, 0, 100000)
 WHERE payload_text IN ('a', 'b', 'c', 'd', 'again');
SELECT * FROM mq.send_batch('batch', ARRAY['a'], dedup_ids => ARRAY['x', 'y']);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM mq.send_batch('batch', ARRAY[]::text[]);
-- Errors of send_batch.
SELECT * FROM mq.send_batch('batch', ARRAY['a', NULL]);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.send_batch('batch', ARRAY['a', 'b'], keys => ARRAY['k']);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.send_batch('batch', NULL::text[]);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.send_batch('batch', ARRAY[['a'], ['b']]);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.send_batch('batch', ARRAY['a'], partition => 3);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.drop_topic('batch');

-- dedup_id: a second send with the same id within the topic's window is
-- accepted, not stored again, and says so; the first send's id comes back.
SELECT end_offset AS before FROM mq.partitions WHERE topic = 'events' AND partition = 0 \gset
SELECT id AS first_id, duplicate FROM mq.send('events', 'charge 42'::text, partition => 0,
                                              dedup_id => 'payment-42') \gset
SELECT :'duplicate' AS first_is_duplicate;
SELECT id = :'first_id' AS same_id, partition, duplicate
  FROM mq.send('events', 'charge 42 again'::text, dedup_id => 'payment-42');
SELECT count(*) AS stored FROM mq.read('events', 0, :before);
-- A rolled-back send does not count: the id can be sent again.
BEGIN;
SELECT duplicate FROM mq.send('events', 'x'::text, dedup_id => 'payment-43');
ROLLBACK;
SELECT duplicate FROM mq.send('events', 'x'::text, dedup_id => 'payment-43');
-- Within one transaction the second send is already a duplicate.
BEGIN;
SELECT duplicate FROM mq.send('events', 'x'::text, dedup_id => 'payment-44');
SELECT duplicate FROM mq.send('events', 'x'::text, dedup_id => 'payment-44');
COMMIT;
-- Ids are per topic.
SELECT mq.create_topic('other', dedup_window => interval '1 second') > 0 AS created;
SELECT duplicate FROM mq.send('other', 'x'::text, dedup_id => 'payment-42');
-- Past the window the id is new again.
SELECT pg_sleep(1.1);
SELECT duplicate FROM mq.send('other', 'x'::text, dedup_id => 'payment-42');
SELECT sum(end_offset) AS stored FROM mq.partitions WHERE topic = 'other';
SELECT mq.drop_topic('other');
SELECT * FROM mq.send('events', 'x'::text, key => repeat('k', 1025));
\echo :LAST_ERROR_SQLSTATE
SELECT partition = mq.partition_for(repeat('k', 1024), 4) AS longest_key_ok
  FROM mq.send('events', 'x'::text, key => repeat('k', 1024));
SELECT * FROM mq.send('events', 'x'::text, dedup_id => '');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.create_topic('t', dedup_window => interval '0');
\echo :LAST_ERROR_SQLSTATE

-- Errors.
SELECT * FROM mq.send('events', NULL::text);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.send(NULL, 'x'::text);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.send('events', 'x'::text, partition => 4);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.send('events', 'x'::text, partition => -1);
\echo :LAST_ERROR_SQLSTATE
SET mq.max_message_size = '1kB';
SELECT * FROM mq.send('events', repeat('x', 1025)::text);
\echo :LAST_ERROR_SQLSTATE
SELECT partition FROM mq.send('events', repeat('x', 1024)::text, partition => 0);
RESET mq.max_message_size;
BEGIN READ ONLY;
SELECT * FROM mq.send('events', 'x'::text);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- A transaction that sent cannot be prepared (as with NOTIFY), and the
-- refusal loses nothing committed.
SELECT end_offset AS before FROM mq.partitions WHERE topic = 'events' AND partition = 0 \gset
BEGIN;
SELECT partition FROM mq.send('events', 'x'::text, partition => 0);
PREPARE TRANSACTION 'p';
\echo :LAST_ERROR_SQLSTATE
SELECT end_offset = :before AS nothing_written
  FROM mq.partitions WHERE topic = 'events' AND partition = 0;

-- Reading: bounds and isolation levels.
SELECT count(*) FROM mq.read('events', 0, 0, 2);
SELECT * FROM mq.read('events', 0, -1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.read('events', 0, 0, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.read('events', 9);
\echo :LAST_ERROR_SQLSTATE
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM mq.read('events', 0);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- A role with EXECUTE on the functions needs mq's privileges on the topic
-- too, and no privilege on any table (mq's functions use them as the
-- extension's owner).
CREATE ROLE mq_app;
GRANT USAGE ON SCHEMA mq TO mq_app;
GRANT EXECUTE ON FUNCTION mq.send(text, text, text, text, jsonb, integer, text, interval, timestamptz, integer),
                          mq.read(text, integer, bigint, integer) TO mq_app;
SET ROLE mq_app;
SELECT partition FROM mq.send('events', 'refused'::text, partition => 3);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT mq.grant_topic('events', 'produce', 'mq_app');
SET ROLE mq_app;
SELECT partition FROM mq.send('events', 'from app'::text, partition => 3);
SELECT partition, duplicate FROM mq.send('events', 'dedup from app'::text, partition => 3, dedup_id => 'app-1');
SELECT partition, duplicate FROM mq.send('events', 'dedup from app'::text, partition => 3, dedup_id => 'app-1');
SELECT count(*) FROM mq.read('events', 3);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT mq.grant_topic('events', 'consume', 'mq_app');
SET ROLE mq_app;
SELECT payload_text FROM mq.read('events', 3) ORDER BY "offset" DESC LIMIT 1;
SELECT mq.create_topic('not_mine');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM mq.topic;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT mq.revoke_topic('events', 'all', 'mq_app');
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA mq FROM mq_app;
REVOKE ALL ON SCHEMA mq FROM mq_app;
DROP ROLE mq_app;

-- Dropping the topic while a transaction has messages for it buffered
-- fails that transaction's commit, cleanly.
BEGIN;
SELECT partition FROM mq.send('events', 'x'::text, partition => 0);
SELECT mq.drop_topic('events');
COMMIT;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM mq.topics WHERE name = 'events';
SELECT mq.drop_topic('events');
