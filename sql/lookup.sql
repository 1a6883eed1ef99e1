--
-- Lookups by offset, id, key and time range, each through an index.
--

SELECT mq.create_topic('lookups', partitions => 2) > 0 AS created;
SELECT count(*) FROM mq.send_batch('lookups',
    ARRAY(SELECT 'm' || g FROM generate_series(1, 20) g),
    keys => ARRAY(SELECT 'k' || (g % 3) FROM generate_series(1, 20) g));
SELECT id AS wanted_id, partition AS wanted_partition
  FROM mq.send('lookups', 'findme'::text, key => 'special', tag => 'T') \gset

-- By offset.
SELECT partition, "offset", payload_text
  FROM mq.get('lookups', :wanted_partition,
              (SELECT max("offset") FROM mq.read('lookups', :wanted_partition, 0, 1000)));
SELECT count(*) AS none FROM mq.get('lookups', 0, 999999);

-- By id.
SELECT id = :'wanted_id' AS found, key, tag, payload_text
  FROM mq.get_by_id('lookups', :'wanted_id');
SELECT count(*) AS none FROM mq.get_by_id('lookups', '00000000-0000-7000-8000-000000000000');
SELECT count(*) AS not_v7 FROM mq.get_by_id('lookups', '00000000-0000-4000-8000-000000000000');

-- By key: the most recent first, at most max.
SELECT payload_text
  FROM mq.get_by_key('lookups', 'k1', 3);
SELECT count(*) FROM mq.get_by_key('lookups', 'k1', 100);
SELECT count(*) AS none FROM mq.get_by_key('lookups', 'nope');

-- By time range, oldest first.
SELECT count(*) FROM mq.get_by_time('lookups', now() - interval '1 hour', now() + interval '1 hour');
SELECT count(*) AS none FROM mq.get_by_time('lookups', now() + interval '1 hour', now() + interval '2 hours');
SELECT count(*) FROM mq.get_by_time('lookups', '-infinity', 'infinity', 5);

-- Every function that returns messages gives each one's epoch: the number
-- the server drew when it started, the same for everything written since.
-- A subscribed group and a shared one see it too.
SELECT DISTINCT epoch AS epoch FROM mq.messages('lookups') \gset
SELECT :epoch > 0 AS positive, count(DISTINCT epoch) AS epochs FROM mq.messages('lookups');
SELECT mq.subscribe('lookups.g', 'lookups', start => 'earliest') IS NOT NULL AS subscribed;
SELECT mq.subscribe('lookups.p', 'lookups', start => 'earliest') IS NOT NULL AS subscribed;
SELECT mq.subscribe('lookups.s', 'lookups', mode => 'shared', start => 'earliest') IS NOT NULL AS shared;
SELECT f, count(*) AS messages, bool_and(epoch = :epoch) AS same_epoch
  FROM (SELECT 'read' AS f, epoch FROM mq.read('lookups', :wanted_partition)
        UNION ALL SELECT 'messages', epoch FROM mq.messages('lookups')
        UNION ALL SELECT 'get', epoch FROM mq.get('lookups', :wanted_partition, 0)
        UNION ALL SELECT 'get_by_id', epoch FROM mq.get_by_id('lookups', :'wanted_id')
        UNION ALL SELECT 'get_by_key', epoch FROM mq.get_by_key('lookups', 'k1', 100)
        UNION ALL SELECT 'get_by_time', epoch FROM mq.get_by_time('lookups', '-infinity', 'infinity')
        UNION ALL SELECT 'fetch', epoch FROM mq.fetch('lookups.g', max => 1000)
        UNION ALL SELECT 'poll', epoch FROM mq.poll('lookups.p', max => 1000, wait => '0')
        UNION ALL SELECT 'receive', epoch FROM mq.receive('lookups.s', 1000)) e
 GROUP BY f ORDER BY f;
SELECT mq.drop_group('lookups.g'), mq.drop_group('lookups.p'), mq.drop_group('lookups.s');

-- A segment table holds one row per record batch.  Each kind of lookup
-- finds its batches through an index: by offset the primary key (the batch
-- that starts at or before it), by key the primary key too (the newest
-- batches of the key's partition), by time and by id (ids, being UUIDv7,
-- carry their time) the BRIN index on the batches' time ranges.  With
-- sequential scans disabled the planner serves each lookup's query from
-- one (the tables are too small here for it to choose them otherwise).
SELECT relid::regclass AS seg FROM mq.segment JOIN mq.topic USING (topic_id)
 WHERE name = 'lookups' \gset
SELECT regexp_replace(indexdef, 'seg_[0-9]+_[0-9]+', 'seg_N', 'g') AS indexdef
  FROM pg_indexes
 WHERE schemaname = 'mq' AND tablename = (SELECT relname FROM pg_class WHERE oid = :'seg'::regclass)
 ORDER BY 1;
CREATE FUNCTION uses_index(query text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
        IF line ~ 'Index (Only )?Scan' THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END $$;
SET enable_seqscan = off;
SELECT uses_index(format('SELECT * FROM %s WHERE partition = 0 AND base_offset <= 3 ORDER BY base_offset DESC LIMIT 1', :'seg')) AS by_offset,
       uses_index(format('SELECT * FROM %s WHERE first_at <= now() AND last_at >= now() - interval ''1 minute''', :'seg')) AS by_id,
       uses_index(format('SELECT * FROM %s WHERE partition = 0 ORDER BY base_offset DESC LIMIT 3', :'seg')) AS by_key,
       uses_index(format('SELECT * FROM %s WHERE last_at >= now() AND first_at < now()', :'seg')) AS by_time;
RESET enable_seqscan;
DROP FUNCTION uses_index(text);

-- Errors.
SELECT * FROM mq.get('lookups', 5, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.get('nope', 0, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.get_by_key('lookups', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.get_by_key('lookups', 'k1', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.get_by_time('lookups', now(), now() - interval '1 s');
\echo :LAST_ERROR_SQLSTATE

SELECT mq.drop_topic('lookups');

-- Segment tables hold data, so they are not members of the extension
-- (pg_dump saves them) but depend on it: DROP EXTENSION refuses while
-- topics exist, and CASCADE drops them with it.
SELECT mq.create_topic('kept') > 0 AS created;
SELECT partition FROM mq.send('kept', 'x'::text);
\set VERBOSITY terse
DROP EXTENSION mq;
\echo :LAST_ERROR_SQLSTATE
DROP EXTENSION mq CASCADE;
\set VERBOSITY default
SELECT count(*) AS segment_tables_left FROM pg_class
 WHERE relname ~ '^seg_[0-9]+_[0-9]+$';
CREATE EXTENSION mq;
SELECT mq.create_topic('kept') > 0 AS created_again;
SELECT mq.drop_topic('kept');
