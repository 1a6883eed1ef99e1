-- Record batches: a segment row holds the messages one transaction
-- committed to one partition, packed and compressed; readers decode them.

-- A transaction's messages to a partition are one batch; offsets stay per
-- message.
SELECT mq.create_topic('b.events', partitions => 2) > 0 AS created;
SELECT count(*) FROM generate_series(1, 10) g,
  LATERAL mq.send('b.events', ('{"n": ' || g || ', "note": "' || repeat('x', 150) || '"}')::jsonb,
                  key => 'k' || (g % 3), tag => CASE WHEN g % 2 = 0 THEN 'even' END,
                  headers => jsonb_build_object('n', g), partition => 0);
SELECT count(*) FROM generate_series(11, 12) g,
  LATERAL mq.send('b.events', '{"n": ' || g || '}'::text, partition => 0);
SELECT relid::regclass AS seg FROM mq.segment s JOIN mq.topic t USING (topic_id)
 WHERE t.name = 'b.events' \gset
SELECT partition, base_offset, record_count, last_at >= first_at AS ordered
  FROM :seg ORDER BY partition, base_offset;

-- Every field survives the round trip.
SELECT "offset", key, tag, headers, payload_json ->> 'n' AS n,
       payload_type
  FROM mq.read('b.events', 0, 0, 100) ORDER BY "offset";

-- A read may start, and a fetch stop, inside a batch: the next one
-- continues at the right record, never skipping or repeating one.
SELECT string_agg("offset"::text, ',' ORDER BY "offset") FROM mq.read('b.events', 0, 3, 4);
SELECT mq.subscribe('b.group', 'b.events', 'earliest');
SELECT string_agg("offset"::text, ',' ORDER BY "offset") FROM mq.fetch('b.group', max => 4);
SELECT string_agg("offset"::text, ',' ORDER BY "offset") FROM mq.fetch('b.group', max => 4);
SELECT string_agg("offset"::text, ',' ORDER BY "offset") FROM mq.fetch('b.group', max => 100);
SELECT count(*) AS nothing_left FROM mq.fetch('b.group', max => 100);

-- Filters apply per record inside a batch.
SELECT mq.subscribe('b.tagged', 'b.events', 'earliest', tags => 'even');
SELECT string_agg("offset"::text, ',' ORDER BY "offset") FROM mq.fetch('b.tagged', max => 100);
SELECT mq.subscribe('b.filtered', 'b.events', 'earliest', filter => '$.n > 7');
SELECT string_agg("offset"::text, ',' ORDER BY "offset") FROM mq.fetch('b.filtered', max => 100);

-- Lookups find records inside batches.
SELECT "offset", key FROM mq.get('b.events', 0, 4);
SELECT count(*) AS past_end FROM mq.get('b.events', 0, 12);
SELECT count(*) AS hole_before_start FROM mq.get('b.events', 0, -1);
SELECT id AS wanted FROM mq.read('b.events', 0, 6, 1) \gset
SELECT "offset" FROM mq.get_by_id('b.events', :'wanted');
-- By key: a keyed message is in the partition its key hashes to, so only
-- that partition is read, newest first.
SELECT mq.partition_for('kk', 2) AS kk_partition \gset
SELECT count(*) FROM generate_series(1, 3) g, LATERAL mq.send('b.events', 'kk ' || g, key => 'kk');
SELECT count(*) FROM generate_series(1, 2) g, LATERAL mq.send('b.events', 'other ' || g, key => 'zz');
SELECT partition = :kk_partition AS in_its_partition, payload_text
  FROM mq.get_by_key('b.events', 'kk', 2);
SELECT count(*) FROM mq.get_by_time('b.events', now() - interval '1 hour', now() + interval '1 hour');
SELECT count(*) FROM mq.get_by_time('b.events', now() - interval '1 hour', now() + interval '1 hour', 4);
SELECT mq.first_unconsumed_at('b.events', 0, 5) IS NOT NULL AS has_time;

-- mq.messages shows a topic one row per message, in partition and offset
-- order, for people who used to SELECT a segment.
SELECT partition, "offset", key FROM mq.messages('b.events') ORDER BY 1, 2 LIMIT 3;
SELECT count(*) FROM mq.messages('b.events');
SELECT count(*) FROM mq.messages('b.events', :kk_partition);
SELECT * FROM mq.messages('b.events', 2);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.messages('b.nope');
\echo :LAST_ERROR_SQLSTATE

-- Compression: lz4 by default, pglz or none by choice, changed for the
-- batches written after the change commits.  Batches are compressed before
-- the row is formed (TOAST would not touch rows this small), and stored in
-- the row.
SELECT name, compression FROM mq.topics WHERE name = 'b.events';
SELECT mq.create_topic('b.none', compression => 'none') > 0 AS created;
SELECT mq.create_topic('b.pglz', compression => 'pglz') > 0 AS created;
SELECT count(*) FROM mq.send_batch('b.none', (SELECT array_agg(repeat('abc', 100)) FROM generate_series(1, 20)));
SELECT count(*) FROM mq.send_batch('b.pglz', (SELECT array_agg(repeat('abc', 100)) FROM generate_series(1, 20)));
SELECT count(*) FROM mq.send_batch('b.events', (SELECT array_agg(repeat('abc', 100)) FROM generate_series(1, 20)), partition => 1);
SELECT relid::regclass AS seg_none FROM mq.segment JOIN mq.topic USING (topic_id)
 WHERE name = 'b.none' \gset
SELECT relid::regclass AS seg_pglz FROM mq.segment JOIN mq.topic USING (topic_id)
 WHERE name = 'b.pglz' \gset
SELECT 'none' AS topic, pg_column_compression(records) AS method,
       pg_column_size(records) < 6000 AS smaller FROM :seg_none
UNION ALL
SELECT 'pglz', pg_column_compression(records), pg_column_size(records) < 6000 FROM :seg_pglz
UNION ALL
SELECT 'lz4', pg_column_compression(records), pg_column_size(records) < 6000
  FROM :seg WHERE partition = 1;
SELECT count(*) AS same_messages FROM mq.messages('b.none') n JOIN mq.messages('b.pglz') p
  USING (partition, "offset", payload_text);
SELECT mq.alter_topic('b.none', compression => 'lz4');
SELECT compression FROM mq.topics WHERE name = 'b.none';
SELECT count(*) FROM mq.send_batch('b.none', (SELECT array_agg(repeat('abc', 100)) FROM generate_series(1, 20)));
SELECT base_offset, pg_column_compression(records) AS method FROM :seg_none ORDER BY 1;
SELECT mq.create_topic('b.bad', compression => 'zstd');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.alter_topic('b.none', compression => 'zip');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.create_topic('b.null', compression => NULL);
\echo :LAST_ERROR_SQLSTATE

-- A segment whose layout is not the record batch layout (one changed by
-- hand, or one of mq 0.1 not yet converted) is refused cleanly, for reading
-- and for writing.
SELECT mq.create_topic('b.broken') > 0 AS created;
SELECT relid::regclass AS seg_broken FROM mq.segment JOIN mq.topic USING (topic_id)
 WHERE name = 'b.broken' \gset
SELECT partition FROM mq.send('b.broken', 'kept'::text);
ALTER TABLE :seg_broken ALTER COLUMN record_count TYPE bigint;
SELECT count(*) FROM mq.read('b.broken', 0, 0, 10);
\echo :LAST_ERROR_SQLSTATE
SELECT partition FROM mq.send('b.broken', 'refused'::text);
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE :seg_broken ALTER COLUMN record_count TYPE integer;
SELECT payload_text FROM mq.read('b.broken', 0, 0, 10);

-- The readers that select batches with a query refuse a records column
-- retyped by hand too, rather than decode another type as a batch.
SELECT mq.create_topic('b.retyped') > 0 AS created;
SELECT relid::regclass AS seg_retyped FROM mq.segment JOIN mq.topic USING (topic_id)
 WHERE name = 'b.retyped' \gset
SELECT partition FROM mq.send('b.retyped', 'x'::text);
ALTER TABLE :seg_retyped ALTER COLUMN records TYPE integer USING 0;
SELECT count(*) FROM mq.get_by_time('b.retyped', '-infinity', 'infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM mq.get_by_id('b.retyped', '01900000-0000-7000-8000-000000000000');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM mq.read('b.retyped', 0, 0, 10);
\echo :LAST_ERROR_SQLSTATE

-- A segment's owner can write bytes no producer wrote; decoding them is an
-- error, never a crash.  Records made NULL (the column's NOT NULL dropped
-- first) fail the layout check; headers whose jsonb entries point outside
-- the value are refused before jsonb's functions read them.
SELECT mq.create_topic('b.hostile', compression => 'none') > 0 AS created;
SELECT relid::regclass AS seg_hostile FROM mq.segment JOIN mq.topic USING (topic_id)
 WHERE name = 'b.hostile' \gset
SELECT partition FROM mq.send('b.hostile', 'h'::text, headers => '{"a": 1}');
SELECT headers FROM mq.read('b.hostile', 0, 0, 10);
-- the batch: a 20-byte header; the record's flags, type, time (one byte),
-- id (16 bytes), a pad byte; the headers' varlena header (bytes 41-44),
-- the jsonb object's header (45-48) and its first entry (49-52)
SELECT get_byte(records, 20) AS flags, get_byte(records, 21) AS type,
       get_byte(records, 44) AS object_count
  FROM :seg_hostile;
UPDATE :seg_hostile SET records = overlay(records PLACING '\xffffff0f'::bytea FROM 49);
SELECT headers FROM mq.read('b.hostile', 0, 0, 10);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM mq.messages('b.hostile');
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE :seg_hostile ALTER COLUMN records DROP NOT NULL;
UPDATE :seg_hostile SET records = NULL;
SELECT count(*) FROM mq.read('b.hostile', 0, 0, 10);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM mq.get_by_time('b.hostile', '-infinity', 'infinity');
\echo :LAST_ERROR_SQLSTATE

SELECT mq.drop_topic(name) FROM mq.topics WHERE name LIKE 'b.%' ORDER BY name;
SELECT mq.drop_group('b.group'), mq.drop_group('b.tagged'), mq.drop_group('b.filtered');
