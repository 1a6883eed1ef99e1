--
-- Consumer groups: subscribe, fetch, commit, ack, seek, members, filters,
-- lag, and their errors.
--
\set VERBOSITY default
SELECT mq.create_topic('g.events', partitions => 2) > 0 AS created;
SELECT count(*) FROM mq.send_batch('g.events',
    ARRAY(SELECT 'e' || g FROM generate_series(1, 6) g),
    partition => 0);
SELECT count(*) FROM mq.send_batch('g.events',
    ARRAY(SELECT 'f' || g FROM generate_series(1, 4) g),
    partition => 1);

-- Subscribing creates the group; 'earliest' starts at the log start,
-- 'latest' (the default) at the stable offset.
SELECT mq.subscribe('billing', 'g.events', start => 'earliest');
SELECT mq.subscribe('audit', 'g.events');
SELECT "group", topic, mode, tags, filter, ordered, max_retries, start
  FROM mq.subscriptions ORDER BY 1;
SELECT "group", strategy, generation, members, subscriptions FROM mq.groups ORDER BY 1;
SELECT "group", partition, committed_offset, stable_offset, end_offset, lag,
       oldest_unconsumed_age IS NOT NULL AS has_age, below_log_start
  FROM mq.lag ORDER BY 1, 3;

-- Subscribing again keeps the positions and returns false.
SELECT mq.subscribe('billing', 'g.events', start => 'latest', max_retries => 3);
SELECT max_retries FROM mq.subscriptions WHERE "group" = 'billing';

-- Outside a transaction block a fetch commits as it returns: at-most-once.
SELECT partition, "offset", payload_text
  FROM mq.fetch('billing', 'g.events', max => 2, partition => 0);
SELECT committed_offset FROM mq.lag WHERE "group" = 'billing' AND partition = 0;

-- In a transaction the fetch claims the partition; a rollback gives the
-- same messages again.
BEGIN;
SELECT partition, "offset" FROM mq.fetch('billing', 'g.events', max => 2, partition => 0);
ROLLBACK;
BEGIN;
SELECT partition, "offset" FROM mq.fetch('billing', 'g.events', max => 2, partition => 0);
-- a second fetch in the same transaction continues where the first stopped
SELECT partition, "offset" FROM mq.fetch('billing', 'g.events', max => 1, partition => 0);
SELECT mq.commit('billing');
COMMIT;
SELECT committed_offset FROM mq.lag WHERE "group" = 'billing' AND partition = 0;

-- Explicit commit and ack.
BEGIN;
SELECT partition, "offset" FROM mq.fetch('billing', 'g.events', max => 10, partition => 1);
SELECT mq.ack('billing', 'g.events', 1, 1);
COMMIT;
SELECT committed_offset FROM mq.lag WHERE "group" = 'billing' AND partition = 1;
SELECT mq.commit('billing', 'g.events', 1, 3);
SELECT committed_offset FROM mq.lag WHERE "group" = 'billing' AND partition = 1;

-- Savepoints: rolling back to one puts the claim back where it was then,
-- even through a released inner savepoint.
SELECT mq.seek('billing', 'g.events', 0, 0);
BEGIN;
SELECT "offset" FROM mq.fetch('billing', 'g.events', max => 1, partition => 0);
SAVEPOINT a;
SELECT "offset" FROM mq.fetch('billing', 'g.events', max => 1, partition => 0);
SAVEPOINT b;
SELECT "offset" FROM mq.fetch('billing', 'g.events', max => 1, partition => 0);
RELEASE b;
ROLLBACK TO a;
SELECT "offset" FROM mq.fetch('billing', 'g.events', max => 1, partition => 0);
ROLLBACK TO a;
SELECT mq.commit('billing');
COMMIT;
SELECT committed_offset FROM mq.lag WHERE "group" = 'billing' AND partition = 0;

-- PREPARE TRANSACTION after a fetch is refused: claims belong to the session.
BEGIN;
SELECT count(*) FROM mq.fetch('billing', 'g.events', max => 1, partition => 0);
PREPARE TRANSACTION 'mq_fetch';
SELECT committed_offset FROM mq.lag WHERE "group" = 'billing' AND partition = 0;

-- Auto-commit: the next fetch commits the previous batch (at-least-once).
SELECT mq.subscribe('auto', 'g.events', start => 'earliest');
SELECT partition, "offset" FROM mq.fetch('auto', 'g.events', max => 3, partition => 0, auto_commit => true);
SELECT committed_offset, leased_until IS NOT NULL AS leased
  FROM mq.lag WHERE "group" = 'auto' AND partition = 0;
SELECT partition, "offset" FROM mq.fetch('auto', 'g.events', max => 3, partition => 0, auto_commit => true);
SELECT committed_offset FROM mq.lag WHERE "group" = 'auto' AND partition = 0;
-- mq.commit(group) commits the last auto-commit batch at once
SELECT mq.commit('auto');
SELECT committed_offset, leased_until IS NULL AS released
  FROM mq.lag WHERE "group" = 'auto' AND partition = 0;
-- Auto-commit by consumer id: the id's next fetch, or mq.commit(group,
-- consumer_id), commits its batch; this session's own fetches do not.
SELECT mq.seek('auto', 'g.events', 0, 0);
SELECT count(*) FROM mq.fetch('auto', 'g.events', max => 2, partition => 0, auto_commit => true, consumer_id => 'c1');
SELECT count(*) FROM mq.fetch('auto', 'g.events', max => 2, partition => 0, auto_commit => true);
SELECT mq.commit('auto');
SELECT committed_offset, leased_until IS NOT NULL AS leased
  FROM mq.lag WHERE "group" = 'auto' AND partition = 0;
SELECT mq.commit('auto', 'c2');
SELECT mq.commit('auto', 'c1');
SELECT committed_offset, leased_until IS NULL AS released
  FROM mq.lag WHERE "group" = 'auto' AND partition = 0;
-- A consumer id is the role's: another role's commit or fetch with the
-- same id does not acknowledge or take its leases.
CREATE ROLE g_other;
GRANT USAGE ON SCHEMA mq TO g_other;
GRANT EXECUTE ON FUNCTION mq.commit(text, text),
    mq.fetch(text, text, integer, integer, boolean, text, bigint, text) TO g_other;
SELECT mq.grant_group('auto', 'consume', 'g_other');
SELECT mq.grant_topic('g.events', 'consume', 'g_other');
SELECT count(*) FROM mq.fetch('auto', 'g.events', max => 2, partition => 0, auto_commit => true, consumer_id => 'c1');
SET ROLE g_other;
SELECT mq.commit('auto', 'c1');
SELECT count(*) FROM mq.fetch('auto', 'g.events', partition => 0, auto_commit => true, consumer_id => 'c1');
RESET ROLE;
SELECT committed_offset, leased_until IS NOT NULL AS leased
  FROM mq.lag WHERE "group" = 'auto' AND partition = 0;
SELECT mq.commit('auto', 'c1');
SELECT mq.revoke_group('auto', 'consume', 'g_other');
SELECT mq.revoke_topic('g.events', 'consume', 'g_other');
REVOKE ALL ON FUNCTION mq.commit(text, text),
    mq.fetch(text, text, integer, integer, boolean, text, bigint, text) FROM g_other;
REVOKE USAGE ON SCHEMA mq FROM g_other;
DROP ROLE g_other;
SELECT count(*) FROM mq.fetch('auto', 'g.events', consumer_id => 'c1');
SELECT count(*) FROM mq.fetch('auto', 'g.events', auto_commit => true, consumer_id => '');
SELECT mq.commit('auto', NULL);
SELECT mq.commit('no.such.group', 'c1');

-- Seek: to an offset, to the earliest and latest positions, to a time.
SELECT mq.seek('billing', 'g.events', 0, 1);
SELECT committed_offset FROM mq.lag WHERE "group" = 'billing' AND partition = 0;
SELECT * FROM mq.seek('billing', 'g.events', 'earliest') ORDER BY 1;
SELECT * FROM mq.seek('billing', 'g.events', 'latest') ORDER BY 1;
SELECT * FROM mq.seek('billing', 'g.events', now() - interval '1 hour') ORDER BY 1;
SELECT * FROM mq.seek('billing', 'g.events', now() + interval '1 hour') ORDER BY 1;
-- a position below the log start (after retention) is clamped
UPDATE mq.partition SET log_start = 2
 WHERE topic_id = (SELECT topic_id FROM mq.topic WHERE name = 'g.events') AND partition = 0;
SELECT mq.seek('billing', 'g.events', 0, 0);
SELECT committed_offset, log_start_offset FROM mq.lag
 WHERE "group" = 'billing' AND partition = 0;
UPDATE mq.partition SET log_start = 0
 WHERE topic_id = (SELECT topic_id FROM mq.topic WHERE name = 'g.events') AND partition = 0;

-- Filters: tags and a jsonpath over headers.  Messages filtered out move
-- the position like the others.
SELECT mq.create_topic('g.filtered') > 0 AS created;
SELECT mq.subscribe('eu-orders', 'g.filtered', tags => 'Created || Paid',
                    filter => '$.region == "eu"');
SELECT mq.subscribe('any-tag', 'g.filtered', tags => '*',
                    filter => '$ ? (@.amount > 100)');
SELECT count(*) FROM (
  SELECT mq.send('g.filtered', 'o' || g, tag => t, headers => h)
    FROM (VALUES (1, 'Created', '{"region": "eu", "amount": 50}'::jsonb),
                 (2, 'Created', '{"region": "us", "amount": 500}'),
                 (3, 'Shipped', '{"region": "eu", "amount": 500}'),
                 (4, 'Paid', '{"region": "eu", "amount": 150}'),
                 (5, NULL, NULL),
                 (6, 'Paid', NULL)) v(g, t, h)) s;
SELECT "offset", tag, headers FROM mq.fetch('eu-orders', max => 10);
SELECT committed_offset, lag FROM mq.lag WHERE "group" = 'eu-orders';
SELECT "offset", tag, headers FROM mq.fetch('any-tag', max => 10);

-- Members and assignment strategies.
SELECT mq.create_topic('g.parts', partitions => 5) > 0 AS created;
SELECT mq.subscribe('workers', 'g.parts');
SELECT generation, assignment FROM mq.join('workers', 'w1');
SELECT generation, assignment FROM mq.join('workers', 'w2');
SELECT generation, assignment FROM mq.join('workers', 'w3');
SELECT member_id, assignment FROM mq.members WHERE "group" = 'workers' ORDER BY 1;
-- joining again with nothing changed keeps the generation
SELECT generation FROM mq.join('workers', 'w2');
SELECT generation, assignment FROM mq.heartbeat('workers', 'w1', 3);
SELECT generation FROM mq.join('workers', 'w1', strategy => 'round_robin');
SELECT member_id, assignment FROM mq.members WHERE "group" = 'workers' ORDER BY 1;
SELECT generation FROM mq.join('workers', 'w1', strategy => 'sticky');
SELECT member_id, assignment FROM mq.members WHERE "group" = 'workers' ORDER BY 1;
-- sticky: when w3 leaves, w1 and w2 keep what they had
SELECT mq.leave('workers', 'w3');
SELECT member_id, assignment FROM mq.members WHERE "group" = 'workers' ORDER BY 1;
SELECT mq.leave('workers', 'w3') AS left_again;
SELECT generation FROM mq.join('workers', 'w3', strategy => 'consistent_hash');
SELECT sum(jsonb_array_length(assignment -> 'g.parts')) AS partitions_assigned,
       count(*) AS members
  FROM mq.members WHERE "group" = 'workers';
SELECT generation FROM mq.join('workers', 'w1', strategy => 'range');
-- new partitions go to the members at once
SELECT mq.alter_topic('g.parts', partitions => 6);
SELECT generation FROM mq.groups WHERE "group" = 'workers';
SELECT member_id, assignment FROM mq.members WHERE "group" = 'workers' ORDER BY 1;
SELECT count(*) AS positions FROM mq.lag WHERE "group" = 'workers';

-- A member only fetches from its partitions.
SELECT count(*) FROM mq.send_batch('g.parts',
    ARRAY(SELECT 'p' || g FROM generate_series(0, 11) g),
    keys => ARRAY(SELECT 'k' || g FROM generate_series(0, 11) g));
SELECT DISTINCT partition FROM mq.fetch('workers', member_id => 'w2', generation => 9)
 ORDER BY 1;
-- fencing: a stale generation, a member that is not in the group
SELECT count(*) FROM mq.fetch('workers', member_id => 'w2', generation => 8);
SELECT mq.commit('workers', 'g.parts', 0, 0, member_id => 'w1', generation => 8);
SELECT count(*) FROM mq.fetch('workers', member_id => 'ghost', generation => 9);
SELECT * FROM mq.heartbeat('workers', 'ghost', 9);

-- Members that miss their session timeout are expired.
SELECT generation FROM mq.join('workers', 'w4', session_timeout => '1 s');
SELECT pg_sleep(1.5);
SELECT mq.expire_members() >= 0 AS expired;
SELECT member_id FROM mq.members WHERE "group" = 'workers' ORDER BY 1;

-- Broadcasting: every member gets every message with its own position.
SELECT mq.subscribe('screens', 'g.events', mode => 'broadcasting', start => 'earliest');
SELECT generation, assignment FROM mq.join('screens', 's1');
SELECT generation, assignment FROM mq.join('screens', 's2');
SELECT count(*) FROM mq.fetch('screens', 'g.events', max => 100, member_id => 's1');
SELECT count(*) FROM mq.fetch('screens', 'g.events', max => 100, member_id => 's2');
SELECT count(*) FROM mq.fetch('screens', 'g.events', max => 100, member_id => 's1');
SELECT member_id, partition, committed_offset FROM mq.lag
 WHERE "group" = 'screens' ORDER BY 1, 2;
SELECT count(*) FROM mq.fetch('screens', 'g.events');
SELECT mq.seek('screens', 'g.events', 0, 0);
SELECT mq.seek('screens', 'g.events', 0, 0, member_id => 's2');

-- Long polling returns at once when messages are ready, and waits at most
-- its wait otherwise.
SELECT mq.send('g.events', 'poll me', partition => 1) IS NOT NULL AS sent;
SELECT payload_text
  FROM mq.poll('billing', 'g.events', partition => 1, wait => '10 s');
SELECT count(*) FROM mq.poll('billing', 'g.events', wait => '0.2 s');
SELECT count(*) AS none FROM mq.poll('billing', 'g.events', wait => '0.2 s');
-- a waiting poll ends on query cancel (here, statement_timeout)
SET statement_timeout = '300ms';
SELECT count(*) FROM mq.poll('billing', 'g.events', wait => '1 min');
RESET statement_timeout;

-- Isolation levels with an older snapshot are refused.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM mq.fetch('billing');
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT count(*) FROM mq.poll('billing', wait => '0 s');
ROLLBACK;

-- Errors.
SELECT mq.subscribe('billing', 'nope');
SELECT mq.subscribe('bad group', 'g.events');
SELECT mq.subscribe(NULL, 'g.events');
SELECT mq.subscribe('x', 'g.events', start => 'yesterday');
SELECT mq.subscribe('x', 'g.events', mode => 'fanout');
SELECT mq.subscribe('x', 'g.events', tags => 'A ||');
SELECT mq.subscribe('x', 'g.events', tags => 'A || *');
SELECT mq.subscribe('x', 'g.events', filter => '$.region ==');
SELECT mq.subscribe('x', 'g.events', max_retries => -1);
SELECT mq.subscribe('billing', 'g.events', mode => 'broadcasting');
SELECT * FROM mq.fetch('nobody');
SELECT * FROM mq.fetch('billing', 'g.parts');
SELECT * FROM mq.fetch('billing', max => 0);
SELECT * FROM mq.fetch('billing', partition => 0);
SELECT * FROM mq.fetch('billing', 'g.events', partition => 7);
SELECT * FROM mq.fetch('billing', generation => 1);
SELECT * FROM mq.poll('billing', wait => '2 hours');
SELECT mq.commit('billing', 'g.events', 0, 1000);
SELECT mq.commit('billing', 'g.events', 0, -1);
SELECT mq.commit('billing', 'g.events', NULL, 1);
SELECT mq.commit('billing', 'g.parts', 0, 0);
SELECT mq.commit('nobody');
SELECT mq.seek('billing', 'g.events', 0, 1000);
SELECT * FROM mq.seek('billing', 'g.events', 'middle');
SELECT * FROM mq.join('nobody', 'm');
SELECT * FROM mq.join('workers', '');
SELECT * FROM mq.join('workers', 'w9', session_timeout => '0 s');
SELECT * FROM mq.join('workers', 'w9', strategy => 'random');
SELECT mq.drop_group('nobody');
SELECT mq.drop_group('nobody', if_exists => true);

-- A consumer needs the consume privilege on the group and on the topic;
-- it needs no privilege on any table.  Row-level security on a segment
-- (only a superuser can enable it: segments are the extension owner's) is
-- refused, and nothing moves.
CREATE ROLE g_reader;
GRANT USAGE ON SCHEMA mq TO g_reader;
GRANT EXECUTE ON FUNCTION mq.fetch(text, text, integer, integer, boolean, text, bigint, text) TO g_reader;
SELECT mq.subscribe('readers', 'g.filtered', start => 'earliest');
SET ROLE g_reader;
SELECT count(*) FROM mq.fetch('readers', 'g.filtered');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT mq.grant_group('readers', 'consume', 'g_reader');
SET ROLE g_reader;
SELECT count(*) FROM mq.fetch('readers', 'g.filtered');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT mq.grant_topic('g.filtered', 'consume', 'g_reader');
SELECT relid AS filtered_segment FROM mq.segment
 WHERE topic_id = (SELECT topic_id FROM mq.topic WHERE name = 'g.filtered') \gset
ALTER TABLE :filtered_segment ENABLE ROW LEVEL SECURITY;
SET ROLE g_reader;
SELECT count(*) FROM mq.fetch('readers', 'g.filtered');
RESET ROLE;
ALTER TABLE :filtered_segment DISABLE ROW LEVEL SECURITY;
SET ROLE g_reader;
SELECT count(*) FROM mq.fetch('readers', 'g.filtered');
RESET ROLE;
SELECT committed_offset FROM mq.lag WHERE "group" = 'readers';
SELECT mq.drop_group('readers');
SELECT mq.revoke_topic('g.filtered', 'consume', 'g_reader');
REVOKE ALL ON FUNCTION mq.fetch(text, text, integer, integer, boolean, text, bigint, text) FROM g_reader;
REVOKE USAGE ON SCHEMA mq FROM g_reader;
DROP ROLE g_reader;

-- Sessions keep subscriptions until a change commits, which a prepared
-- transaction could not tell them: subscribing in one is refused.
BEGIN;
SELECT mq.subscribe('prepared', 'g.filtered');
PREPARE TRANSACTION 'mq_subscribe';
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS prepared_group FROM mq.consumer_group WHERE name = 'prepared';

-- Unsubscribing and dropping.
SELECT mq.unsubscribe('audit', 'g.events');
SELECT mq.unsubscribe('audit', 'g.events') AS again;
SELECT mq.drop_group('audit');
SELECT mq.drop_topic('g.filtered');
SELECT "group", topic FROM mq.subscriptions ORDER BY 1, 2;
SELECT mq.drop_group(name) FROM mq.consumer_group ORDER BY name;
SELECT count(*) AS positions FROM mq.position;
SELECT mq.drop_topic('g.events'), mq.drop_topic('g.parts');
