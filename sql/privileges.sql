-- Privileges on topics and groups: the grants of docs/install.md for each
-- kind of role, and what each role may do, action by action (allowed, or
-- refused with 42501).

-- Every role that uses mq: the functions and the views.  mq's privileges,
-- not EXECUTE, decide what it may do with each topic and group.
CREATE ROLE m_user NOLOGIN;
GRANT USAGE ON SCHEMA mq TO m_user;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA mq TO m_user;
REVOKE EXECUTE ON FUNCTION
    mq.create_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, text),
    mq.convert_segments(), mq.advance_clock(interval), mq.expire_members()
    FROM m_user;
GRANT SELECT ON mq.topics, mq.partitions, mq.groups, mq.subscriptions,
                mq.members, mq.lag, mq.delayed, mq.parked, mq.half_messages,
                mq.unresolved, mq.privileges TO m_user;

-- A topic owner may also create topics; it owns them and the groups it
-- creates.
CREATE ROLE m_owner IN ROLE m_user;
GRANT EXECUTE ON FUNCTION
    mq.create_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, text)
    TO m_owner;
CREATE ROLE m_producer IN ROLE m_user;
CREATE ROLE m_consumer IN ROLE m_user;
CREATE ROLE m_operator IN ROLE m_user;
CREATE ROLE m_outsider IN ROLE m_user;

SET ROLE m_owner;
SELECT mq.create_topic('m.orders', partitions => 2) > 0 AS created;
SELECT mq.subscribe('m.billing', 'm.orders', start => 'earliest');
SELECT count(*) FROM mq.send('m.orders', 'first'::text, key => 'k');
SELECT mq.grant_topic('m.orders', 'produce', 'm_producer');
SELECT mq.grant_topic('m.orders', 'consume', 'm_consumer');
SELECT mq.grant_group('m.billing', 'consume', 'm_consumer');
SELECT mq.grant_topic('m.orders', 'manage', 'm_operator');
SELECT mq.grant_group('m.billing', 'manage', 'm_operator');
RESET ROLE;
SELECT kind, object, owner, grantee, privilege FROM mq.privileges
 WHERE object LIKE 'm.%' ORDER BY 1, 2, 4, 5;

-- Runs each action as each role in a subtransaction that is rolled back:
-- 'ok' if it was allowed, else the SQLSTATE.
CREATE FUNCTION pg_temp.try(action text, role text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE format('SET ROLE %I', role);
        EXECUTE action;
        RAISE EXCEPTION USING ERRCODE = 'P0099', MESSAGE = 'allowed';
    EXCEPTION WHEN OTHERS THEN
        IF SQLSTATE = 'P0099' THEN
            RETURN 'ok';
        END IF;
        RETURN SQLSTATE;
    END;
END
$$;

SELECT a.name AS action,
       pg_temp.try(a.sql, 'm_owner') AS owner,
       pg_temp.try(a.sql, 'm_producer') AS producer,
       pg_temp.try(a.sql, 'm_consumer') AS consumer,
       pg_temp.try(a.sql, 'm_operator') AS operator,
       pg_temp.try(a.sql, 'm_outsider') AS outsider
  FROM (VALUES
    (1, 'send', $$SELECT mq.send('m.orders', 'x'::text)$$),
    (2, 'send_batch', $$SELECT mq.send_batch('m.orders', ARRAY['x'])$$),
    (3, 'send delayed', $$SELECT mq.send('m.orders', 'x'::text, delay => '1 h')$$),
    (4, 'prepare', $$SELECT mq.prepare('m.orders', 'x'::text, 'm.shop')$$),
    (5, 'read', $$SELECT mq.read('m.orders', 0)$$),
    (6, 'messages', $$SELECT mq.messages('m.orders')$$),
    (7, 'get_by_key', $$SELECT mq.get_by_key('m.orders', 'k')$$),
    (8, 'partition_offsets', $$SELECT mq.partition_offsets('m.orders')$$),
    (9, 'fetch', $$SELECT mq.fetch('m.billing')$$),
    (10, 'poll', $$SELECT mq.poll('m.billing', wait => '0')$$),
    (11, 'commit', $$SELECT mq.commit('m.billing')$$),
    (12, 'seek', $$SELECT mq.seek('m.billing', 'm.orders', 0, 0)$$),
    (13, 'join', $$SELECT mq.join('m.billing', 'member-1')$$),
    (14, 'dead_letters', $$SELECT mq.dead_letters('m.billing')$$),
    (15, 'replay_dlq', $$SELECT mq.replay_dlq('m.billing')$$),
    (16, 'subscribe (group exists)', $$SELECT mq.subscribe('m.billing', 'm.orders')$$),
    (17, 'subscribe (new group)', $$SELECT mq.subscribe('m.new', 'm.orders')$$),
    (18, 'unsubscribe', $$SELECT mq.unsubscribe('m.billing', 'm.orders')$$),
    (19, 'drop_group', $$SELECT mq.drop_group('m.billing')$$),
    (20, 'alter_topic', $$SELECT mq.alter_topic('m.orders', retention => '1 day')$$),
    (21, 'roll_segment', $$SELECT mq.roll_segment('m.orders')$$),
    (22, 'drop_topic', $$SELECT mq.drop_topic('m.orders')$$),
    (23, 'grant_topic', $$SELECT mq.grant_topic('m.orders', 'consume', 'm_outsider')$$),
    (24, 'grant_group', $$SELECT mq.grant_group('m.billing', 'consume', 'm_outsider')$$),
    (25, 'alter_topic_owner', $$SELECT mq.alter_topic_owner('m.orders', 'm_user')$$),
    (26, 'create_topic', $$SELECT mq.create_topic('m.more')$$),
    (27, 'select a segment', format('SELECT * FROM %s',
        (SELECT s.relid::regclass FROM mq.segment s JOIN mq.topic t USING (topic_id)
          WHERE t.name = 'm.orders' LIMIT 1))),
    (28, 'select mq.topic', $$SELECT * FROM mq.topic$$),
    (29, 'update mq.position', $$UPDATE mq.position SET next_offset = 0$$)
  ) AS a(n, name, sql)
 ORDER BY a.n;

-- What each role sees in the views: topics, partitions, groups, lag rows,
-- privileges rows.
CREATE FUNCTION pg_temp.seen(role text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    EXECUTE format('SET ROLE %I', role);
    SELECT concat_ws(' ',
           (SELECT count(*) FROM mq.topics WHERE name = 'm.orders'),
           (SELECT count(*) FROM mq.partitions WHERE topic = 'm.orders'),
           (SELECT count(*) FROM mq.groups WHERE "group" = 'm.billing'),
           (SELECT count(*) FROM mq.lag WHERE "group" = 'm.billing'),
           (SELECT count(*) FROM mq.privileges WHERE object = 'm.orders'))
      INTO result;
    RESET ROLE;
    RETURN result;
END
$$;
SELECT r AS role, pg_temp.seen(r) AS "topics partitions groups lag privileges"
  FROM unnest(ARRAY['m_owner', 'm_producer', 'm_consumer', 'm_operator', 'm_outsider']) r;

-- The privilege functions.
SELECT mq.has_topic_privilege('m_producer', 'm.orders', 'produce') AS producer_produces,
       mq.has_topic_privilege('m_producer', 'm.orders', 'consume') AS producer_consumes,
       mq.has_topic_privilege('m_consumer', 'm.orders', 'produce, consume') AS consumer_any,
       mq.has_topic_privilege('m_owner', 'm.orders', 'all') AS owner_all,
       mq.has_topic_privilege('m_producer', 'm.nowhere', 'produce') AS no_topic,
       mq.has_topic_privilege('m_nobody', 'm.orders', 'produce') AS no_role,
       mq.has_group_privilege('m_consumer', 'm.billing', 'consume') AS group_consume;
SELECT mq.has_topic_privilege('m.orders', 'read');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.has_group_privilege('m.billing', 'produce');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.grant_topic('m.orders', '', 'm_outsider');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.grant_topic('m.orders', 'consume', 'm_nobody');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.grant_topic('m.nowhere', 'consume', 'm_outsider');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.grant_topic(NULL, 'consume', 'm_outsider');
\echo :LAST_ERROR_SQLSTATE

-- 'public' grants to every role; a member of a grantee holds what it was
-- granted; a revoke takes it back at once, in other sessions too (the
-- masks kept per session follow a counter in shared memory).
SELECT mq.grant_topic('m.orders', 'CONSUME', 'PUBLIC');
SELECT mq.has_topic_privilege('m_outsider', 'm.orders', 'consume');
SELECT mq.revoke_topic('m.orders', 'consume', 'public');
SELECT mq.has_topic_privilege('m_outsider', 'm.orders', 'consume');
GRANT m_consumer TO m_outsider;
SELECT mq.has_topic_privilege('m_outsider', 'm.orders', 'consume');
REVOKE m_consumer FROM m_outsider;
SELECT mq.has_topic_privilege('m_outsider', 'm.orders', 'consume');

-- A group's own retry and dead-letter topics (owned by the group's owner)
-- follow the group: consuming as the group reads them.  A topic that only
-- has such a name does not.
SELECT mq.create_topic('m.billing.dlq') > 0 AS created;
SELECT mq.has_topic_privilege('m_consumer', 'm.billing.dlq', 'consume') AS consumer_reads_dlq;
SELECT mq.alter_topic_owner('m.billing.dlq', 'm_owner');
SELECT mq.has_topic_privilege('m_consumer', 'm.billing.dlq', 'consume') AS consumer_reads_dlq,
       mq.has_topic_privilege('m_producer', 'm.billing.dlq', 'consume') AS producer_reads_dlq;
-- they go with the group to a new owner
SELECT mq.alter_group_owner('m.billing', 'm_operator');
SELECT owner FROM mq.topics WHERE name = 'm.billing.dlq';
SELECT mq.has_topic_privilege('m_consumer', 'm.billing.dlq', 'consume') AS consumer_reads_dlq;
SELECT mq.alter_group_owner('m.billing', 'm_owner');

-- Roles are named: a grant to a role does not keep it from being dropped,
-- stays listed, and holds again for a role created later by that name
-- (revoke it when dropping the role; a revoke takes any name).
CREATE ROLE m_gone IN ROLE m_user;
SELECT mq.grant_topic('m.orders', 'consume', 'm_gone');
DROP ROLE m_gone;
SELECT grantee FROM mq.privileges WHERE object = 'm.orders' AND grantee = 'm_gone';
CREATE ROLE m_gone;
SELECT mq.has_topic_privilege('m_gone', 'm.orders', 'consume');
DROP ROLE m_gone;
SELECT mq.revoke_topic('m.orders', 'consume', 'm_gone');
SELECT count(*) FROM mq.privileges WHERE grantee = 'm_gone';

-- A grant rolled back with its savepoint is forgotten at once.
BEGIN;
SAVEPOINT s;
SELECT mq.grant_topic('m.orders', 'produce', 'm_outsider');
SELECT mq.has_topic_privilege('m_outsider', 'm.orders', 'produce');
ROLLBACK TO s;
SELECT mq.has_topic_privilege('m_outsider', 'm.orders', 'produce');
COMMIT;

-- The views are security barriers: a caller's cheap function in a WHERE
-- clause never sees rows the caller may not see.
SET ROLE m_owner;
SELECT mq.prepare('m.orders', 'secret payload'::text, 'm.shop') IS NOT NULL AS prepared;
RESET ROLE;
SET ROLE m_consumer;
CREATE FUNCTION pg_temp.leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001
AS $$ BEGIN RAISE NOTICE 'leaked %', $1; RETURN false; END $$;
SELECT count(*) FROM mq.half_messages WHERE pg_temp.leak(payload_text);
SELECT count(*) FROM mq.unresolved WHERE pg_temp.leak(payload_text);
DROP FUNCTION pg_temp.leak(text);
RESET ROLE;

-- A group's retry and dead-letter topics must be its own: a group named
-- after another owner's "x.dlq" topic cannot read or fill it.
SET ROLE m_owner;
SELECT mq.create_topic('m.victim.dlq') > 0 AS created;
SELECT count(*) FROM mq.send('m.victim.dlq', 'not yours'::text);
RESET ROLE;
SET ROLE m_consumer;
SELECT mq.subscribe('m.victim', 'm.orders', start => 'earliest');
SELECT mq.replay_dlq('m.victim');
\echo :LAST_ERROR_SQLSTATE
-- (and mq.dead_letters does not show it as the group's)
SELECT count(*) FROM mq.dead_letters('m.victim');
RESET ROLE;
SELECT mq.drop_group('m.victim');
SELECT mq.drop_topic('m.victim.dlq');

-- Cleanup.
SELECT mq.drop_topic('m.billing.dlq');
SELECT mq.drop_group('m.billing');
SELECT mq.drop_topic('m.orders');
SELECT count(*) FROM mq.topic_privilege;
SELECT count(*) FROM mq.group_privilege;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA mq FROM m_user, m_owner;
REVOKE ALL ON ALL TABLES IN SCHEMA mq FROM m_user;
REVOKE ALL ON SCHEMA mq FROM m_user;
DROP ROLE m_owner, m_producer, m_consumer, m_operator, m_outsider, m_user;
