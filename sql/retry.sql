--
-- Retries and dead letters: mq.nack schedules a copy on the group's retry
-- topic with back-off while the position moves on; after max_retries the
-- message goes to the group's dead-letter topic; ordered subscriptions
-- retry in place.  mq's clock is moved instead of sleeping.
--
\set VERBOSITY default
SET mq.test_clock = on;
SELECT mq.create_topic('r.jobs') > 0 AS created;
SELECT mq.subscribe('r.workers', 'r.jobs', start => 'earliest', max_retries => 2);
SELECT mq.subscribe('r.audit', 'r.jobs', start => 'earliest');
SELECT count(*) FROM mq.send_batch('r.jobs', ARRAY['job-a', 'job-b', 'job-c'],
    keys => ARRAY['a', 'b', 'c']);

-- The first failure of job-b: a retry, the position still moves past it.
BEGIN;
SELECT "offset", payload_text FROM mq.fetch('r.workers');
SELECT mq.nack('r.workers', 'r.jobs', 0, 1);
SELECT mq.commit('r.workers');
COMMIT;
-- The retry topic exists, the group reads it, and the copy waits 10 s
-- (RocketMQ's level 3).  Other groups are not affected.
SELECT "group", topic, start FROM mq.subscriptions WHERE "group" = 'r.workers' ORDER BY 2;
SELECT topic, pending, next_due - mq.clock() BETWEEN interval '5 s' AND interval '10 s' AS ten_seconds
  FROM mq.delayed;
SELECT count(*) AS nothing_yet FROM mq.fetch('r.workers');
SELECT count(*) AS audit_sees_all FROM mq.fetch('r.audit');

-- A nack rolled back with its transaction leaves no retry.
BEGIN;
SELECT mq.nack('r.workers', 'r.jobs', 0, 2);
ROLLBACK;
SELECT pending FROM mq.delayed;

-- Due: delivered again from the retry topic with its attempt and origin.
-- The second failure backs off 30 s (level 4), then the third goes to the
-- dead-letter topic: max_retries => 2 allows two retries.
SELECT mq.advance_clock('10 s') IS NOT NULL AS advanced;
BEGIN;
SELECT topic, "offset", payload_text, key,
       headers - 'mq.origin_id' AS headers
  FROM mq.poll('r.workers', wait => '15 s');
SELECT mq.nack('r.workers', 'r.workers.retry', 0, 0);
SELECT mq.commit('r.workers');
COMMIT;
SELECT next_due - mq.clock() BETWEEN interval '25 s' AND interval '30 s' AS thirty_seconds
  FROM mq.delayed;
SELECT mq.advance_clock('30 s') IS NOT NULL AS advanced;
BEGIN;
SELECT "offset", headers ->> 'mq.attempt' AS attempt
  FROM mq.poll('r.workers', wait => '15 s');
SELECT mq.nack('r.workers', 'r.workers.retry', 0, 1);
SELECT mq.commit('r.workers');
COMMIT;
SELECT "offset", origin_topic, origin_partition, origin_offset, attempts, replayed,
       key, payload_text
  FROM mq.dead_letters('r.workers');

-- Replay sends the dead letters back at once, attempts reset, once.
SELECT mq.replay_dlq('r.workers');
SELECT mq.replay_dlq('r.workers');
SELECT replayed FROM mq.dead_letters('r.workers');
SELECT topic, payload_text, headers ? 'mq.attempt' AS has_attempt,
       headers ->> 'mq.origin_topic' AS origin
  FROM mq.fetch('r.workers');

-- An explicit delay overrides the back-off.
SELECT mq.nack('r.workers', 'r.jobs', 0, 0, delay => '5 min');
SELECT next_due - mq.clock() BETWEEN interval '295 s' AND interval '300 s' AS five_minutes
  FROM mq.delayed;

-- Ordered subscriptions retry in place: the position goes back to the
-- message, and mq.commit(group) does not pass it.
SELECT mq.create_topic('r.ledger') > 0 AS created;
SELECT mq.subscribe('r.books', 'r.ledger', start => 'earliest', ordered => true, max_retries => 1);
SELECT count(*) FROM mq.send_batch('r.ledger', ARRAY['l0', 'l1', 'l2']);
BEGIN;
SELECT "offset" FROM mq.fetch('r.books');
SELECT mq.nack('r.books', 'r.ledger', 0, 1);
SELECT mq.commit('r.books');
COMMIT;
SELECT committed_offset FROM mq.lag WHERE "group" = 'r.books';
BEGIN;
SELECT "offset" FROM mq.fetch('r.books');
-- the second failure uses up max_retries => 1: dead letter, and on
SELECT mq.nack('r.books', 'r.ledger', 0, 1);
SELECT mq.commit('r.books');
COMMIT;
SELECT committed_offset FROM mq.lag WHERE "group" = 'r.books';
SELECT origin_offset, attempts FROM mq.dead_letters('r.books');

-- A batch: several offsets at once, each with its result; an ordered
-- subscription goes back to the first, and the later ones come after it.
SELECT count(*) FROM mq.send_batch('r.ledger', ARRAY['l3', 'l4', 'l5']);
SELECT count(*) FROM mq.send_batch('r.jobs', ARRAY['job-d', 'job-e']);
BEGIN;
SELECT topic, "offset" FROM mq.fetch('r.books');
SELECT * FROM mq.nack_batch('r.books', 'r.ledger', 0, ARRAY[5, 4, 4]::bigint[]);
SELECT mq.commit('r.books');
COMMIT;
SELECT committed_offset FROM mq.lag WHERE "group" = 'r.books';
BEGIN;
SELECT topic, "offset" FROM mq.fetch('r.workers', 'r.jobs');
SELECT * FROM mq.nack_batch('r.workers', 'r.jobs', 0, ARRAY[3, 4]::bigint[]);
SELECT mq.commit('r.workers');
COMMIT;
SELECT topic, pending FROM mq.delayed;

-- Going back is remembered per savepoint: a nack rolled back to a
-- savepoint no longer holds the partition back, the one before it still
-- does.
SELECT count(*) FROM mq.send_batch('r.ledger', ARRAY['l6', 'l7', 'l8']);
BEGIN;
SELECT "offset" FROM mq.fetch('r.books');
SELECT mq.nack('r.books', 'r.ledger', 0, 5);
SAVEPOINT s;
SELECT mq.nack('r.books', 'r.ledger', 0, 4);
ROLLBACK TO s;
SELECT mq.nack('r.books', 'r.ledger', 0, 7);
SELECT mq.commit('r.books');
COMMIT;
SELECT committed_offset FROM mq.lag WHERE "group" = 'r.books';

-- An ordered subscription's message can be handed back only by the
-- transaction that fetched it: elsewhere, nothing says where its consumer
-- stopped.
SELECT count(*) FROM mq.fetch('r.books', auto_commit => true);
SELECT mq.nack('r.books', 'r.ledger', 0, 6);
\echo :LAST_ERROR_SQLSTATE

-- A member's first nack creates the retry topic without a rebalance, so
-- the member's own generation still holds and it can commit.
SELECT mq.create_topic('r.fenced') > 0 AS created;
SELECT mq.subscribe('r.members', 'r.fenced', start => 'earliest');
SELECT partition FROM mq.send('r.fenced', 'f0'::text);
SELECT generation AS gen FROM mq.join('r.members', 'w1') \gset
BEGIN;
SELECT "offset" FROM mq.fetch('r.members', member_id => 'w1', generation => :gen);
SELECT mq.nack('r.members', 'r.fenced', 0, 0, member_id => 'w1', generation => :gen);
SELECT mq.commit('r.members', 'r.fenced', 0, 1, member_id => 'w1', generation => :gen);
COMMIT;
SELECT generation = :gen AS same_generation FROM mq.groups WHERE "group" = 'r.members';
SELECT member_id, assignment FROM mq.members WHERE "group" = 'r.members';

-- Errors.
SELECT mq.nack('r.workers', 'r.jobs', 0, 99);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.nack('r.workers', 'r.jobs', NULL, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.nack('r.nobody', 'r.jobs', 0, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.nack('r.workers', 'r.ledger', 0, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.nack('r.workers', 'r.jobs', 0, 0, delay => '-1 s');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.subscribe('r.everyone', 'r.jobs', start => 'earliest', mode => 'broadcasting');
SELECT generation FROM mq.join('r.everyone', 'm1');
SELECT mq.nack('r.everyone', 'r.jobs', 0, 0, member_id => 'm1');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.replay_dlq('r.nobody');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.replay_dlq('r.audit');
SELECT mq.replay_dlq('r.workers', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.nack_batch('r.workers', 'r.jobs', 0, ARRAY[1, NULL]::bigint[]);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.nack_batch('r.workers', 'r.jobs', 0, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq.dead_letters('r.nobody');
\echo :LAST_ERROR_SQLSTATE
BEGIN READ ONLY;
SELECT mq.nack('r.workers', 'r.jobs', 0, 0);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
