-- PREPARE TRANSACTION and mq (the refusals of transactions that carry mq
-- state are tested with each subsystem).  This instance allows prepared
-- transactions (test/mq_test.conf).

-- A transaction whose calls left nothing to write (an empty batch, a
-- send found to be a duplicate) can be prepared; it leaves nothing behind,
-- and the session's next transactions send as usual.
SELECT mq.create_topic('prepared', partitions => 2) AS prepared_topic \gset
SELECT duplicate FROM mq.send('prepared', 'first'::text, dedup_id => 'prep-1');
BEGIN;
SELECT count(*) FROM mq.send_batch('prepared', ARRAY[]::text[]);
PREPARE TRANSACTION 'mq_nothing_sent';
COMMIT PREPARED 'mq_nothing_sent';
BEGIN;
SELECT duplicate FROM mq.send('prepared', 'again'::text, dedup_id => 'prep-1');
PREPARE TRANSACTION 'mq_duplicate';
COMMIT PREPARED 'mq_duplicate';
SELECT count(*) FROM generate_series(1, 50) g,
  LATERAL mq.send('prepared', 'after prepare ' || g, partition => 0);
SELECT count(*) AS sent_after_prepare
  FROM mq.read('prepared', 0, 0, 1000) r
 WHERE r.payload_text LIKE 'after prepare %';
SELECT mq.drop_topic('prepared');
