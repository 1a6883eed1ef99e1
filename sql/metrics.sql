--
-- mq.metrics: counters of committed work per topic and per consumer group.
-- Work done in a transaction or subtransaction that rolls back counts for
-- nothing; committed work counts once, in messages and payload bytes.
-- (The worker's counts, restarts and crashes: test/t/018_metrics.pl.)
--
SET mq.test_clock = on;
SELECT mq.create_topic('m.orders', partitions => 2) > 0 AS created;
SELECT mq.subscribe('m.billing', 'm.orders', start => 'earliest', max_retries => 0);

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
END $$;

CREATE VIEW m AS
    SELECT topic, "group", produced, produced_bytes, released, delivered,
           delivered_bytes, acknowledged, nacked, dead_lettered
      FROM mq.metrics WHERE topic LIKE 'm.%';

-- Nothing counted yet: no rows.
SELECT * FROM m ORDER BY topic, "group" NULLS FIRST;

-- A send that rolls back does not count, nor one in a savepoint rolled
-- back; committed sends count, with their payload bytes (jsonb as text).
BEGIN;
SELECT count(*) FROM mq.send('m.orders', 'never');
ROLLBACK;
SELECT * FROM m ORDER BY topic, "group" NULLS FIRST;
BEGIN;
SELECT count(*) FROM mq.send('m.orders', 'hello', key => 'a');
SAVEPOINT s;
SELECT count(*) FROM mq.send('m.orders', 'rolled back to the savepoint');
ROLLBACK TO s;
SAVEPOINT t;
SELECT count(*) FROM mq.send('m.orders', '{"n": 1}'::jsonb, key => 'b');
RELEASE t;
COMMIT;
SELECT count(*) FROM mq.send_batch('m.orders', ARRAY['x', 'yy', 'zzz']);
SELECT topic, "group", produced, produced_bytes FROM m;
SELECT stats_reset <= now() AS stats_reset_set FROM mq.metrics WHERE topic = 'm.orders';

-- A fetch in a transaction or savepoint that rolls back delivers nothing;
-- committed, it delivers its rows (and their payload bytes), and the
-- position that mq.commit moves counts as acknowledged, in offsets.  What
-- a released savepoint counted belongs to its transaction.
BEGIN;
SELECT count(*) FROM mq.fetch('m.billing', max => 100);
ROLLBACK;
SELECT "group", delivered, acknowledged FROM m WHERE "group" IS NOT NULL;
BEGIN;
SAVEPOINT a;
SELECT count(*) FROM mq.fetch('m.billing', max => 100);
ROLLBACK TO a;
SAVEPOINT b;
SELECT count(*) FROM mq.fetch('m.billing', max => 100);
SAVEPOINT c;
SELECT mq.commit('m.billing');
RELEASE c;
RELEASE b;
COMMIT;
SELECT "group", delivered, delivered_bytes, acknowledged FROM m
 WHERE "group" IS NOT NULL;

-- Auto-commit: delivered at once, acknowledged by the next fetch.
SELECT count(*) FROM mq.send_batch('m.orders', ARRAY['p', 'q']);
SELECT count(*) FROM mq.fetch('m.billing', max => 100, auto_commit => true);
SELECT "group", delivered, delivered_bytes, acknowledged FROM m
 WHERE "group" IS NOT NULL;
SELECT count(*) FROM mq.fetch('m.billing', max => 100, auto_commit => true);
SELECT "group", delivered, acknowledged FROM m WHERE "group" IS NOT NULL;

-- A nack counts once its transaction commits; with max_retries => 0 it
-- sends the message to the dead letters, which produces it into m.billing.dlq.
SELECT count(*) FROM mq.send('m.orders', 'bad', partition => 0);
BEGIN;
SELECT "offset" AS bad FROM mq.fetch('m.billing', 'm.orders', partition => 0) \gset
SELECT mq.nack('m.billing', 'm.orders', 0, :bad);
ROLLBACK;
SELECT "group", nacked, dead_lettered FROM m WHERE "group" IS NOT NULL;
BEGIN;
SELECT "offset" AS bad FROM mq.fetch('m.billing', 'm.orders', partition => 0) \gset
SELECT mq.nack('m.billing', 'm.orders', 0, :bad);
SELECT mq.commit('m.billing');
COMMIT;
SELECT * FROM m ORDER BY topic, "group" NULLS FIRST;

-- Shared subscriptions: receive delivers, ack acknowledges, nack counts;
-- a receive that rolls back delivers nothing.
SELECT mq.subscribe('m.workers', 'm.orders', mode => 'shared', start => 'latest');
SELECT count(*) FROM mq.send_batch('m.orders', ARRAY['j1', 'j2', 'j3']);
BEGIN;
SELECT count(*) FROM mq.receive('m.workers', 10);
ROLLBACK;
SELECT "group", delivered FROM m WHERE "group" = 'm.workers';
CREATE TEMPORARY TABLE got AS SELECT receipt FROM mq.receive('m.workers', 10);
SELECT count(*) FROM got;
BEGIN;
SELECT mq.ack(array_agg(receipt)) FROM got;
ROLLBACK;
SELECT mq.ack(receipt) FROM (SELECT receipt FROM got LIMIT 2) r;
SELECT mq.nack(receipt) FROM (SELECT receipt FROM got OFFSET 2) r;
SELECT "group", delivered, delivered_bytes, acknowledged, nacked FROM m
 WHERE "group" = 'm.workers';

-- Who sees what: a role sees the topics it has a privilege on, and the
-- groups it has a privilege on with them.
CREATE ROLE m_viewer;
GRANT USAGE ON SCHEMA mq TO m_viewer;
GRANT SELECT ON mq.metrics TO m_viewer;
GRANT EXECUTE ON FUNCTION mq.metric_counters(), mq.reset_metrics() TO m_viewer;
SET ROLE m_viewer;
SELECT topic, "group" FROM mq.metrics WHERE topic LIKE 'm.%';
RESET ROLE;
SELECT mq.grant_topic('m.orders', 'consume', 'm_viewer');
SET ROLE m_viewer;
SELECT topic, "group" FROM mq.metrics WHERE topic LIKE 'm.%' ORDER BY 1, 2;
RESET ROLE;
SELECT mq.grant_group('m.billing', 'consume', 'm_viewer');
SET ROLE m_viewer;
SELECT topic, "group" FROM mq.metrics WHERE topic LIKE 'm.%' ORDER BY 1, 2 NULLS FIRST;
-- Only a superuser resets them.
SELECT mq.reset_metrics();
RESET ROLE;

-- A dropped group's rows go: at once from the view, and from shared
-- memory with the worker's next pass.
SELECT group_id AS workers FROM mq.consumer_group WHERE name = 'm.workers' \gset
SELECT mq.drop_group('m.workers');
SELECT count(*) FROM m WHERE "group" = 'm.workers';
SELECT pg_temp.wait_until(format(
    'SELECT NOT EXISTS (SELECT FROM mq.metric_counters() WHERE group_id = %s)',
    :workers)) AS swept;
SELECT job, errors FROM mq.worker_jobs()
 WHERE database = current_database() AND job = 'metrics';

-- mq.shmem_usage() counts the rows of every database.
SELECT used >= (SELECT count(*) FROM m) AS counted, capacity, setting
  FROM mq.shmem_usage() WHERE area = 'metrics';

-- A reset sets the current database's counters to zero: the rows go until
-- something counts again.
SELECT mq.reset_metrics() > 0 AS reset;
SELECT count(*) FROM mq.metrics;
SELECT count(*) FROM mq.send('m.orders', 'after');
SELECT topic, produced, produced_bytes FROM m;

DROP VIEW m;
REVOKE ALL ON SCHEMA mq FROM m_viewer;
REVOKE ALL ON mq.metrics FROM m_viewer;
REVOKE ALL ON FUNCTION mq.metric_counters(), mq.reset_metrics() FROM m_viewer;
SELECT mq.revoke_topic('m.orders', 'consume', 'm_viewer');
SELECT mq.revoke_group('m.billing', 'consume', 'm_viewer');
DROP ROLE m_viewer;
