--
-- Topics: create, list, drop, and the errors of each.
--

SELECT mq.create_topic('orders', partitions => 3) > 0 AS created;
SELECT mq.create_topic('audit.log-v2_x');

SELECT name, partitions, retention, retention_bytes, segment_bytes,
       segment_age, notify, segments
  FROM mq.topics ORDER BY name;

-- Each partition starts empty, with no restart gap.
SELECT topic, partition, log_start_offset, end_offset, stable_offset,
       inflight, oldest_inflight, restart_gap_start, restart_gap_end
  FROM mq.partitions ORDER BY topic, partition;

-- Names: letters, digits, '.', '_' and '-', 1 to 200 characters.
SELECT mq.create_topic('bad name');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.create_topic('');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.create_topic(repeat('x', 201));
\echo :LAST_ERROR_SQLSTATE
SELECT mq.create_topic(repeat('x', 200)) > 0 AS longest_name_ok;
SELECT mq.drop_topic(repeat('x', 200));
SELECT mq.create_topic('x"; DROP TABLE mq.topic; --');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.create_topic(NULL);
\echo :LAST_ERROR_SQLSTATE

-- Bad settings.
SELECT mq.create_topic('t', partitions => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.create_topic('t', partitions => 100001);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.create_topic('t', partitions => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.create_topic('t', retention => interval '-1 day');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.create_topic('t', retention_bytes => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.create_topic('t', segment_bytes => 1000);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.create_topic('t', segment_age => interval '0');
\echo :LAST_ERROR_SQLSTATE

-- No limits on retention is allowed.
SELECT mq.create_topic('forever', retention => NULL) > 0 AS created;
SELECT retention IS NULL AS keeps_forever FROM mq.topics WHERE name = 'forever';

-- Duplicates.
SELECT mq.create_topic('orders');
\echo :LAST_ERROR_SQLSTATE

-- Dropping.
SELECT mq.drop_topic('forever');
SELECT mq.drop_topic('forever');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.drop_topic('forever', if_exists => true);
SELECT name FROM mq.topics ORDER BY name;

-- A topic created in a transaction that rolls back leaves nothing, in
-- the tables or in shared memory (it could not be re-created otherwise).
BEGIN;
SELECT mq.create_topic('ephemeral') > 0 AS created;
SELECT partition FROM mq.send('ephemeral', 'x'::text);
ROLLBACK;
SELECT count(*) FROM mq.topics WHERE name = 'ephemeral';
SELECT mq.create_topic('ephemeral') > 0 AS created_again;
SELECT mq.drop_topic('ephemeral');

-- The same inside a savepoint.
BEGIN;
SAVEPOINT s;
SELECT mq.create_topic('ephemeral') > 0 AS created;
SELECT partition FROM mq.send('ephemeral', 'x'::text);
ROLLBACK TO SAVEPOINT s;
SELECT mq.create_topic('ephemeral') > 0 AS created_again_in_same_xact;
SELECT partition FROM mq.send('ephemeral', 'y'::text);
COMMIT;
SELECT payload_type, payload_text
  FROM mq.read('ephemeral', 0);
SELECT mq.drop_topic('ephemeral');

-- Dropped and created again in one transaction: the new topic is used,
-- not the old one's shared-memory entry.
SELECT mq.create_topic('again') > 0 AS created;
SELECT partition FROM mq.send('again', 'old'::text);
BEGIN;
SELECT mq.drop_topic('again');
SELECT mq.create_topic('again', partitions => 2) > 0 AS created;
SELECT partition FROM mq.send('again', 'new'::text, partition => 1);
COMMIT;
SELECT partition, end_offset FROM mq.partitions WHERE topic = 'again' ORDER BY partition;
SELECT payload_text FROM mq.read('again', 1);
SELECT mq.drop_topic('again');

-- alter_topic: settings change, NULL leaves them; partitions only grow.
SELECT mq.create_topic('grow', partitions => 2) > 0 AS created;
SELECT partition FROM mq.send('grow', 'before'::text, partition => 1);
SELECT mq.alter_topic('grow', retention => interval '1 day', segment_age => interval '2 hours',
                      notify => false, dedup_window => interval '5 minutes');
SELECT partitions, retention, retention_bytes, segment_age, notify, dedup_window
  FROM mq.topics WHERE name = 'grow';
SELECT mq.alter_topic('grow', unlimited_retention => true, retention_bytes => 1000000);
SELECT retention IS NULL AS unlimited, retention_bytes FROM mq.topics WHERE name = 'grow';
-- Growing: the new partitions exist once the ALTER commits, a rolled-back
-- ALTER leaves the topic as it was, and old offsets are kept.
BEGIN;
SELECT mq.alter_topic('grow', partitions => 5);
ROLLBACK;
SELECT partitions FROM mq.topics WHERE name = 'grow';
SELECT * FROM mq.send('grow', 'x'::text, partition => 4);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.alter_topic('grow', partitions => 4);
SELECT partition FROM mq.send('grow', 'new partition'::text, partition => 3);
SELECT partition, end_offset FROM mq.partitions WHERE topic = 'grow' ORDER BY partition;
SELECT payload_text FROM mq.read('grow', 3);
-- A key's partition follows the new count, exactly as in Kafka.
SELECT partition = mq.partition_for('k', 4) AS new_placement FROM mq.send('grow', 'x'::text, key => 'k');
SELECT mq.alter_topic('grow', partitions => 3);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.alter_topic('grow', retention => interval '-1 day');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.alter_topic('grow', retention => interval '1 day', unlimited_retention => true);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.alter_topic('nope', notify => true);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.drop_topic('grow');

-- Segments: a roll starts a new segment table; reads and lookups span
-- all segments, in order.
SELECT mq.create_topic('rolled') > 0 AS created;
SELECT partition FROM mq.send('rolled', 'in segment 0'::text, key => 'k');
SELECT mq.roll_segment('rolled');
SELECT partition FROM mq.send('rolled', 'in segment 1'::text, key => 'k');
BEGIN;
SELECT mq.roll_segment('rolled');
ROLLBACK;
SELECT partition FROM mq.send('rolled', 'still in segment 1'::text, key => 'k');
SELECT segments FROM mq.topics WHERE name = 'rolled';
SELECT "offset", payload_text FROM mq.read('rolled', 0);
SELECT "offset", payload_text FROM mq.get_by_key('rolled', 'k', 2);
SELECT mq.drop_topic('rolled');
SELECT count(*) AS leftover_segments FROM pg_class
 WHERE relnamespace = 'mq'::regnamespace AND relname ~ '^seg_' AND relkind = 'r'
   AND NOT EXISTS (SELECT FROM mq.segment s WHERE s.relid = pg_class.oid);
-- A roll or a growth rolled back by a transaction that also used the topic
-- (loading it into shared memory) leaves the topic as it was.
SELECT mq.create_topic('unused', partitions => 2) > 0 AS created;
BEGIN;
SELECT mq.roll_segment('unused');
SELECT partition FROM mq.send('unused', 'x'::text, partition => 0);
ROLLBACK;
BEGIN;
SELECT mq.alter_topic('unused', partitions => 8);
SELECT partition FROM mq.send('unused', 'x'::text, partition => 1);
ROLLBACK;
SELECT count(*) AS sent FROM generate_series(1, 20) g,
       LATERAL mq.send('unused', g::text, key => g::text) s WHERE s.partition < 2;
SELECT partitions, segments FROM mq.topics WHERE name = 'unused';
SELECT sum(end_offset) AS stored FROM mq.partitions WHERE topic = 'unused';
SELECT mq.drop_topic('unused');
SELECT * FROM mq.roll_segment('nope');
\echo :LAST_ERROR_SQLSTATE

-- Unknown topics, everywhere.
SELECT * FROM mq.send('nope', 'x'::text);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.read('nope', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.partition_offsets('nope');
\echo :LAST_ERROR_SQLSTATE

-- Shared memory holds the topics that have been used.
SELECT area, used > 0 AS in_use FROM mq.shmem_usage()
 WHERE area IN ('topics', 'partitions') ORDER BY area;
