-- mq 0.1 -> 0.2: messages are stored as record batches.
--
-- Each segment table is rewritten from one row per message to one row per
-- record batch (consecutive offsets of one partition, packed and
-- compressed), under its name, owner and privileges; offsets, ids, times
-- and positions do not change.  Topics get a compression setting (lz4 by
-- default), mq.create_topic and mq.alter_topic a compression argument and
-- mq.partition_offsets the restart gap (the EXECUTE privileges granted on
-- the old ones are granted on the new), and mq.messages shows a topic's
-- messages one row per message.  Delivered messages get typed payload
-- columns (below).  Schema mq becomes a member of the extension, as in a
-- fresh install (at the end).

\echo Use "ALTER EXTENSION mq UPDATE TO '0.2'" to load this file. \quit

ALTER TABLE mq.topic
    ADD COLUMN compression text NOT NULL DEFAULT 'lz4'
        CHECK (compression IN ('lz4', 'pglz', 'none'));

-- The old signatures' grants, to apply to the new ones.
CREATE TEMPORARY TABLE mq_update_grants AS
    SELECT p.proname::text AS name,
           CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                ELSE pg_catalog.quote_ident(r.rolname) END AS grantee,
           a.is_grantable
      FROM pg_catalog.pg_proc p
     CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
      LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
     WHERE p.oid IN ('mq.create_topic(text, integer, interval, bigint, bigint, interval, boolean, interval)'::pg_catalog.regprocedure,
                     'mq.alter_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, boolean, boolean)'::pg_catalog.regprocedure,
                     'mq.partition_offsets(text)'::pg_catalog.regprocedure)
       AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner;

-- Delivered messages carry their payload ready to use: payload_type, then
-- payload_json (json), payload_text (text) or payload_bytes (bytea), the
-- other two null.  The functions that return messages change their
-- columns (mq.fetch and mq.poll also get a consumer_id argument, for
-- auto-commit leases through poolers), so they are dropped and made again;
-- the privileges granted on them are granted again, grant options included
-- (as the role running the update: the grantor is not kept).  The new json
-- variants of mq.send, mq.send_batch and mq.prepare get those of their
-- jsonb variants, and mq.commit(group, consumer_id) those of
-- mq.commit(group).  Saved here, before anything is dropped: each old
-- function's grants, for the function that carries them on.
CREATE TEMPORARY TABLE mq_update_payload_acl AS
    SELECT 'FUNCTION ' || m.carried AS object,
           a.privilege_type,
           CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                ELSE pg_catalog.quote_ident(r.rolname) END AS grantee,
           a.is_grantable
      FROM (VALUES
            ('mq.send(text, jsonb, text, text, jsonb, integer, text, interval, timestamptz, integer)',
             'mq.send(text, json, text, text, jsonb, integer, text, interval, timestamptz, integer)'),
            ('mq.send_batch(text, jsonb[], text[], text[], jsonb[], integer, text[])',
             'mq.send_batch(text, json[], text[], text[], jsonb[], integer, text[])'),
            ('mq.prepare(text, jsonb, text, text, text, jsonb, integer, interval)',
             'mq.prepare(text, json, text, text, text, jsonb, integer, interval)'),
            ('mq.commit(text)', 'mq.commit(text, text)'),
            ('mq.read(text, integer, bigint, integer)', 'mq.read(text, integer, bigint, integer)'),
            ('mq.get(text, integer, bigint)', 'mq.get(text, integer, bigint)'),
            ('mq.get_by_id(text, uuid)', 'mq.get_by_id(text, uuid)'),
            ('mq.get_by_key(text, text, integer)', 'mq.get_by_key(text, text, integer)'),
            ('mq.get_by_time(text, timestamptz, timestamptz, integer)',
             'mq.get_by_time(text, timestamptz, timestamptz, integer)'),
            ('mq.fetch(text, text, integer, integer, boolean, text, bigint)',
             'mq.fetch(text, text, integer, integer, boolean, text, bigint, text)'),
            ('mq.poll(text, text, integer, interval, integer, boolean, text, bigint)',
             'mq.poll(text, text, integer, interval, integer, boolean, text, bigint, text)'),
            ('mq.dead_letters(text, bigint, integer)', 'mq.dead_letters(text, bigint, integer)')
           ) AS m (old, carried)
      JOIN pg_catalog.pg_proc p ON p.oid = m.old::pg_catalog.regprocedure
     CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
      LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
     WHERE a.grantee <> p.proowner;

DROP FUNCTION mq.create_topic(text, integer, interval, bigint, bigint, interval, boolean, interval);
CREATE FUNCTION mq.create_topic(
    name text,
    partitions integer DEFAULT 1,
    retention interval DEFAULT interval '7 days',
    retention_bytes bigint DEFAULT NULL,
    segment_bytes bigint DEFAULT 1073741824,
    segment_age interval DEFAULT interval '1 day',
    notify boolean DEFAULT true,
    dedup_window interval DEFAULT interval '1 day',
    compression text DEFAULT 'lz4')
RETURNS integer
AS 'MODULE_PATHNAME', 'mq_create_topic'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.create_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, text) IS
'create a topic with its partitions and first segment; returns the topic id';

DROP FUNCTION mq.alter_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, boolean, boolean);
CREATE FUNCTION mq.alter_topic(
    name text,
    partitions integer DEFAULT NULL,
    retention interval DEFAULT NULL,
    retention_bytes bigint DEFAULT NULL,
    segment_bytes bigint DEFAULT NULL,
    segment_age interval DEFAULT NULL,
    notify boolean DEFAULT NULL,
    dedup_window interval DEFAULT NULL,
    unlimited_retention boolean DEFAULT false,
    unlimited_retention_bytes boolean DEFAULT false,
    compression text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'mq_alter_topic'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.alter_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, boolean, boolean, text) IS
'add partitions to a topic or change its settings; NULL leaves a setting unchanged';

CREATE FUNCTION mq.messages(topic text, partition integer DEFAULT NULL)
RETURNS TABLE (partition integer, "offset" bigint, epoch integer, id uuid,
               key text, tag text, headers jsonb, payload_type text,
               payload_json json, payload_text text, payload_bytes bytea,
               produced_at timestamptz)
AS 'MODULE_PATHNAME', 'mq_messages'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.messages(text, integer) IS
'the committed messages of a topic (or of one partition), one row per message, in partition and offset order';

-- mq.partition_offsets shows the restart gap.  The old function stays, under
-- another name, until the views that use it are replaced (below).
ALTER FUNCTION mq.partition_offsets(text) RENAME TO partition_offsets_0_1;
CREATE FUNCTION mq.partition_offsets(
    topic text,
    OUT partition integer,
    OUT end_offset bigint,
    OUT stable_offset bigint,
    OUT inflight integer,
    OUT oldest_inflight bigint,
    OUT restart_gap_start bigint,
    OUT restart_gap_end bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'mq_partition_offsets'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION mq.partition_offsets(text) IS
'end offset, stable offset, in-flight commits and restart gap of each partition of a topic';

REVOKE ALL ON FUNCTION
    mq.create_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, text),
    mq.alter_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, boolean, boolean, text),
    mq.messages(text, integer),
    mq.partition_offsets(text)
    FROM PUBLIC;

-- What the extension itself grants on them (nothing to PUBLIC): the
-- initial privileges pg_dump compares with.  The grants below are the
-- users', so they must not become initial privileges too.
CREATE TEMPORARY TABLE mq_update_initprivs AS
    SELECT p.oid, p.proacl FROM pg_catalog.pg_proc p
     WHERE p.oid IN ('mq.create_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, text)'::pg_catalog.regprocedure,
                     'mq.alter_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, boolean, boolean, text)'::pg_catalog.regprocedure,
                     'mq.partition_offsets(text)'::pg_catalog.regprocedure);

DO $$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT * FROM mq_update_grants LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s%s',
            CASE g.name
                WHEN 'create_topic' THEN 'mq.create_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, text)'
                WHEN 'partition_offsets' THEN 'mq.partition_offsets(text)'
                ELSE 'mq.alter_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, boolean, boolean, text)'
            END, g.grantee,
            CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$$;
DROP TABLE mq_update_grants;
UPDATE pg_catalog.pg_init_privs i SET initprivs = t.proacl
  FROM mq_update_initprivs t
 WHERE i.objoid = t.oid AND i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass
   AND i.objsubid = 0;
DROP TABLE mq_update_initprivs;

CREATE OR REPLACE VIEW mq.topics WITH (security_barrier) AS
    SELECT t.name, t.partitions, t.retention, t.retention_bytes,
           t.segment_bytes, t.segment_age, t.notify, t.dedup_window, t.created_at,
           (SELECT count(*) FROM mq.segment s WHERE s.topic_id = t.topic_id) AS segments,
           (SELECT sum(pg_total_relation_size(s.relid)) FROM mq.segment s
             WHERE s.topic_id = t.topic_id)::bigint AS size_bytes,
           CASE WHEN t.notify THEN
               CASE WHEN length('mq.' || t.name) <= 63 THEN 'mq.' || t.name
                    ELSE 'mq.#' || t.topic_id END
           END AS channel,
           t.compression
      FROM mq.topic t;

-- A checker's registrant is kept by name, so that a dump restores it into a
-- cluster where the role has another OID.
ALTER TABLE mq.checker
    ALTER COLUMN owner TYPE text USING pg_catalog.pg_get_userbyid(owner);

-- A topic's owner is recorded in mq.topic (convert_segments sets it to
-- its old segments' owner); privileges are granted on topics and groups.
ALTER TABLE mq.topic ADD COLUMN owner text NOT NULL DEFAULT CURRENT_USER;
CREATE TABLE mq.topic_privilege (
    topic_id  integer NOT NULL REFERENCES mq.topic ON DELETE CASCADE,
    grantee   text NOT NULL,
    privilege text NOT NULL CHECK (privilege IN ('produce', 'consume', 'manage')),
    PRIMARY KEY (topic_id, grantee, privilege)
);
SELECT pg_catalog.pg_extension_config_dump('mq.topic_privilege', '');
ALTER TABLE mq.consumer_group ADD COLUMN owner text NOT NULL DEFAULT CURRENT_USER;
CREATE TABLE mq.group_privilege (
    group_id  integer NOT NULL REFERENCES mq.consumer_group ON DELETE CASCADE,
    grantee   text NOT NULL,
    privilege text NOT NULL CHECK (privilege IN ('consume', 'manage')),
    PRIMARY KEY (group_id, grantee, privilege)
);
SELECT pg_catalog.pg_extension_config_dump('mq.group_privilege', '');

-- Rewrite the segments.  The function stays, for dumps of 0.1 databases
-- restored into 0.2.
CREATE FUNCTION mq.convert_segments() RETURNS integer
AS 'MODULE_PATHNAME', 'mq_convert_segments'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.convert_segments() IS
'rewrite every segment of mq 0.1 (one row per message) as record batches; returns how many';

REVOKE ALL ON FUNCTION mq.convert_segments() FROM PUBLIC;
SELECT mq.convert_segments();

-- Delayed messages whose release fails are retried, then parked.
ALTER TABLE mq.delayed_message
    ADD COLUMN release_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN last_error text;

-- Delayed messages the worker failed to release mq.release_attempts
-- times (an index expression on the segment that raises, say): set aside
-- with the error, so that the rest of the release goes on.
CREATE TABLE mq.parked_message (
    id           uuid PRIMARY KEY,
    topic_id     integer NOT NULL REFERENCES mq.topic ON DELETE CASCADE,
    partition    integer,
    due_at       timestamptz NOT NULL,
    payload_type "char" NOT NULL,
    key          text COLLATE "C",
    tag          text COLLATE "C",
    headers      jsonb,
    payload      bytea NOT NULL,
    sent_at      timestamptz NOT NULL,
    attempts     integer NOT NULL,
    error        text NOT NULL,
    parked_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON mq.parked_message (topic_id);
SELECT pg_catalog.pg_extension_config_dump('mq.parked_message', '');

CREATE VIEW mq.parked WITH (security_barrier) AS
    SELECT p.id, t.name AS topic, p.partition, p.key, p.tag, p.due_at,
           p.sent_at, p.attempts, p.error, p.parked_at
      FROM mq.parked_message p
      JOIN mq.topic t USING (topic_id);

CREATE FUNCTION mq.unpark(id uuid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mq_unpark'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.unpark(uuid) IS
'put a parked message back in the delayed store, due now, for another round of release attempts; false if none is parked by that id';

CREATE FUNCTION mq.discard_parked(id uuid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mq_discard_parked'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.discard_parked(uuid) IS
'delete a parked message for good; false if none is parked by that id';

REVOKE ALL ON FUNCTION mq.unpark(uuid), mq.discard_parked(uuid) FROM PUBLIC;
REVOKE ALL ON mq.parked_message, mq.parked FROM PUBLIC;

------------------------------------------------------------------------
-- Privileges on topics and groups
------------------------------------------------------------------------

CREATE FUNCTION mq.grant_topic(topic text, privileges text, role text)
RETURNS void
AS 'MODULE_PATHNAME', 'mq_grant_topic'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.grant_topic(text, text, text) IS
'grant privileges on a topic (produce, consume, manage, all) to a role or to public; only its owner may';

CREATE FUNCTION mq.revoke_topic(topic text, privileges text, role text)
RETURNS void
AS 'MODULE_PATHNAME', 'mq_revoke_topic'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.revoke_topic(text, text, text) IS
'revoke privileges on a topic from a role or from public; only its owner may';

CREATE FUNCTION mq.grant_group("group" text, privileges text, role text)
RETURNS void
AS 'MODULE_PATHNAME', 'mq_grant_group'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.grant_group(text, text, text) IS
'grant privileges on a consumer group (consume, manage, all) to a role or to public; only its owner may';

CREATE FUNCTION mq.revoke_group("group" text, privileges text, role text)
RETURNS void
AS 'MODULE_PATHNAME', 'mq_revoke_group'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.revoke_group(text, text, text) IS
'revoke privileges on a consumer group from a role or from public; only its owner may';

CREATE FUNCTION mq.has_topic_privilege(topic text, privileges text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mq_has_topic_privilege'
LANGUAGE C STABLE;

CREATE FUNCTION mq.has_topic_privilege(role text, topic text, privileges text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mq_has_topic_privilege'
LANGUAGE C STABLE;

COMMENT ON FUNCTION mq.has_topic_privilege(text, text) IS
'whether the current user holds any of the privileges on a topic; NULL if there is no such topic';
COMMENT ON FUNCTION mq.has_topic_privilege(text, text, text) IS
'whether a role holds any of the privileges on a topic; NULL if there is no such topic or role';

CREATE FUNCTION mq.has_group_privilege("group" text, privileges text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mq_has_group_privilege'
LANGUAGE C STABLE;

CREATE FUNCTION mq.has_group_privilege(role text, "group" text, privileges text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mq_has_group_privilege'
LANGUAGE C STABLE;

COMMENT ON FUNCTION mq.has_group_privilege(text, text) IS
'whether the current user holds any of the privileges on a consumer group; NULL if there is no such group';
COMMENT ON FUNCTION mq.has_group_privilege(text, text, text) IS
'whether a role holds any of the privileges on a consumer group; NULL if there is no such group or role';

CREATE FUNCTION mq.alter_topic_owner(topic text, owner text)
RETURNS void
AS 'MODULE_PATHNAME', 'mq_alter_topic_owner'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.alter_topic_owner(text, text) IS
'give a topic to another role, as ALTER ... OWNER TO does';

CREATE FUNCTION mq.alter_group_owner("group" text, owner text)
RETURNS void
AS 'MODULE_PATHNAME', 'mq_alter_group_owner'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.alter_group_owner(text, text) IS
'give a consumer group to another role, as ALTER ... OWNER TO does';

-- The owner and grants of every topic and group the caller may use.
CREATE VIEW mq.privileges WITH (security_barrier) AS
    SELECT 'topic' AS kind, t.name AS object, t.owner, p.grantee, p.privilege
      FROM mq.topic t
      LEFT JOIN mq.topic_privilege p USING (topic_id)
     WHERE mq.has_topic_privilege(t.name, 'all')
    UNION ALL
    SELECT 'group', g.name, g.owner, p.grantee, p.privilege
      FROM mq.consumer_group g
      LEFT JOIN mq.group_privilege p USING (group_id)
     WHERE mq.has_group_privilege(g.name, 'all');

------------------------------------------------------------------------
-- Metrics: counters of committed work per topic and consumer group
------------------------------------------------------------------------

-- The current database's counters in shared memory, by topic and group id
-- (group_id 0: the topic's own); mq.metrics names them.
CREATE FUNCTION mq.metric_counters(
    OUT topic_id integer,
    OUT group_id integer,
    OUT produced bigint,
    OUT produced_bytes bigint,
    OUT released bigint,
    OUT delivered bigint,
    OUT delivered_bytes bigint,
    OUT acknowledged bigint,
    OUT nacked bigint,
    OUT dead_lettered bigint,
    OUT stats_reset timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'mq_metric_counters'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION mq.metric_counters() IS
'the counters of committed work of the current database''s topics and groups, by id';

CREATE FUNCTION mq.reset_metrics()
RETURNS bigint
AS 'MODULE_PATHNAME', 'mq_reset_metrics'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION mq.reset_metrics() IS
'set every counter of mq.metrics in the current database to zero; returns how many rows it reset; superusers only';

-- A row per topic ("group" NULL) and per topic and consumer group that
-- counted something: topics the caller may see, and groups it may see
-- with them.
CREATE VIEW mq.metrics WITH (security_barrier) AS
    WITH m AS (SELECT * FROM mq.metric_counters())
    SELECT t.name AS topic, NULL::text AS "group",
           m.produced, m.produced_bytes, m.released, m.delivered,
           m.delivered_bytes, m.acknowledged, m.nacked, m.dead_lettered,
           m.stats_reset
      FROM m
      JOIN mq.topic t USING (topic_id)
     WHERE m.group_id = 0
       AND mq.has_topic_privilege(t.name, 'all')
    UNION ALL
    SELECT t.name, g.name,
           m.produced, m.produced_bytes, m.released, m.delivered,
           m.delivered_bytes, m.acknowledged, m.nacked, m.dead_lettered,
           m.stats_reset
      FROM m
      JOIN mq.topic t USING (topic_id)
      JOIN mq.consumer_group g USING (group_id)
     WHERE mq.has_group_privilege(g.name, 'all')
       AND mq.has_topic_privilege(t.name, 'all');

REVOKE ALL ON FUNCTION mq.metric_counters(), mq.reset_metrics() FROM PUBLIC;
REVOKE ALL ON mq.metrics FROM PUBLIC;

CREATE OR REPLACE VIEW mq.topics WITH (security_barrier) AS
    SELECT t.name, t.partitions, t.retention, t.retention_bytes,
           t.segment_bytes, t.segment_age, t.notify, t.dedup_window, t.created_at,
           (SELECT count(*) FROM mq.segment s WHERE s.topic_id = t.topic_id) AS segments,
           (SELECT sum(pg_total_relation_size(s.relid)) FROM mq.segment s
             WHERE s.topic_id = t.topic_id)::bigint AS size_bytes,
           CASE WHEN t.notify THEN
               CASE WHEN length('mq.' || t.name) <= 63 THEN 'mq.' || t.name
                    ELSE 'mq.#' || t.topic_id END
           END AS channel,
           t.compression, t.owner
      FROM mq.topic t
     WHERE mq.has_topic_privilege(t.name, 'all');

CREATE OR REPLACE VIEW mq.partitions WITH (security_barrier) AS
    SELECT t.name AS topic, o.partition, p.log_start AS log_start_offset,
           o.end_offset, o.stable_offset, o.inflight, o.oldest_inflight,
           o.end_offset - p.log_start
             - greatest(least(o.end_offset, coalesce(o.restart_gap_end, 0))
                        - greatest(p.log_start, o.restart_gap_start), 0)
             AS messages_estimate,
           p.high_mark, o.restart_gap_start, o.restart_gap_end
      FROM mq.topic t
     CROSS JOIN LATERAL mq.partition_offsets(t.name) o
      JOIN mq.partition p ON p.topic_id = t.topic_id AND p.partition = o.partition
     WHERE mq.has_topic_privilege(t.name, 'all');

CREATE OR REPLACE VIEW mq.groups WITH (security_barrier) AS
    SELECT g.name AS "group", g.strategy, g.generation,
           (SELECT count(*) FROM mq.member m WHERE m.group_id = g.group_id) AS members,
           (SELECT count(*) FROM mq.subscription s WHERE s.group_id = g.group_id) AS subscriptions,
           g.created_at, g.owner, g.dlq_replayed
      FROM mq.consumer_group g
     WHERE mq.has_group_privilege(g.name, 'all');

CREATE OR REPLACE VIEW mq.subscriptions WITH (security_barrier) AS
    SELECT g.name AS "group", t.name AS topic, s.mode, s.tags, s.filter,
           s.ordered, s.max_retries, s.start, s.start_at, s.created_at
      FROM mq.subscription s
      JOIN mq.consumer_group g USING (group_id)
      JOIN mq.topic t USING (topic_id)
     WHERE mq.has_group_privilege(g.name, 'all');

CREATE OR REPLACE VIEW mq.members WITH (security_barrier) AS
    SELECT g.name AS "group", m.member_id, g.generation, m.session_timeout,
           m.joined_at, m.last_seen, m.last_seen + m.session_timeout AS expires_at,
           (SELECT coalesce(jsonb_object_agg(t.name, a.partitions), '{}')
              FROM (SELECT a.topic_id, array_agg(a.partition ORDER BY a.partition) AS partitions
                      FROM mq.assignment a
                     WHERE a.group_id = m.group_id AND a.member_id = m.member_id
                     GROUP BY a.topic_id) a
              JOIN mq.topic t USING (topic_id)) AS assignment
      FROM mq.member m
      JOIN mq.consumer_group g USING (group_id)
     WHERE mq.has_group_privilege(g.name, 'all');

-- lag: the offsets from the position (or the log start) to the stable
-- offset, less those of the restart gap among them (none without a gap:
-- greatest and least skip NULLs, so restart_gap_end is taken as 0).
CREATE OR REPLACE VIEW mq.lag WITH (security_barrier) AS
    WITH o AS (
        SELECT t.topic_id, x.*
          FROM mq.topic t
         CROSS JOIN LATERAL mq.partition_offsets(t.name) x
         WHERE EXISTS (SELECT 1 FROM mq.subscription s WHERE s.topic_id = t.topic_id)
           AND mq.has_topic_privilege(t.name, 'all')
    )
    SELECT g.name AS "group", t.name AS topic, p.partition, p.member_id,
           p.next_offset AS committed_offset,
           o.stable_offset, o.end_offset, pt.log_start AS log_start_offset,
           greatest(o.stable_offset - greatest(p.next_offset, pt.log_start), 0)
             - greatest(least(o.stable_offset, coalesce(o.restart_gap_end, 0))
                        - greatest(p.next_offset, pt.log_start, o.restart_gap_start), 0)
             AS lag,
           now() - CASE WHEN greatest(p.next_offset, pt.log_start) < o.stable_offset
                        THEN mq.first_unconsumed_at(t.name, p.partition,
                                                    greatest(p.next_offset, pt.log_start)) END
             AS oldest_unconsumed_age,
           p.next_offset < pt.log_start AS below_log_start,
           CASE WHEN p.lease_until > now() THEN p.lease_until END AS leased_until,
           p.committed_at
      FROM mq.position p
      JOIN mq.consumer_group g USING (group_id)
      JOIN mq.topic t USING (topic_id)
      JOIN mq.partition pt ON pt.topic_id = p.topic_id AND pt.partition = p.partition
      JOIN o ON o.topic_id = p.topic_id AND o.partition = p.partition
     WHERE mq.has_group_privilege(g.name, 'all');

DROP FUNCTION mq.partition_offsets_0_1(text);

CREATE OR REPLACE VIEW mq.delayed WITH (security_barrier) AS
    SELECT t.name AS topic, count(*) AS pending,
           min(d.due_at) AS next_due, max(d.due_at) AS last_due
      FROM mq.delayed_message d
      JOIN mq.topic t USING (topic_id)
     WHERE mq.has_topic_privilege(t.name, 'produce, manage')
     GROUP BY t.name;

CREATE OR REPLACE VIEW mq.parked WITH (security_barrier) AS
    SELECT p.id, t.name AS topic, p.partition, p.key, p.tag, p.due_at,
           p.sent_at, p.attempts, p.error, p.parked_at
      FROM mq.parked_message p
      JOIN mq.topic t USING (topic_id)
     WHERE mq.has_topic_privilege(t.name, 'produce, manage');

-- Replaced, not dropped: checkers take its row type (mq.register_checker).
-- Its columns stay and the delivered payload columns come last.
CREATE OR REPLACE VIEW mq.half_messages WITH (security_barrier) AS
    SELECT h.id AS handle, t.name AS topic, h.producer_group, h.state,
           h.prepared_at, now() - h.prepared_at AS age, h.checks,
           h.next_check_at, h.last_check, h.resolved_at, h.resolved_by,
           h.partition, h.key, h.tag, h.headers, h.payload,
           CASE h.payload_type WHEN 't' THEN 'text' WHEN 'j' THEN 'jsonb'
                ELSE 'bytea' END AS payload_type,
           CASE h.payload_type WHEN 'j' THEN
                convert_from(h.payload, current_setting('server_encoding'))::json
           END AS payload_json,
           CASE h.payload_type WHEN 't' THEN
                convert_from(h.payload, current_setting('server_encoding'))
           END AS payload_text,
           CASE h.payload_type WHEN 'b' THEN h.payload END AS payload_bytes
      FROM mq.half_message h
      JOIN mq.topic t USING (topic_id)
     WHERE mq.has_topic_privilege(t.name, 'produce');

CREATE OR REPLACE VIEW mq.unresolved AS
    SELECT handle, topic, producer_group, prepared_at, age, checks, last_check,
           key, tag, headers, payload, payload_type, payload_json,
           payload_text, payload_bytes
      FROM mq.half_messages
     WHERE state = 'unresolved';

DROP FUNCTION mq.dead_letters(text, bigint, integer);
CREATE FUNCTION mq.dead_letters("group" text, from_offset bigint DEFAULT 0,
                                max integer DEFAULT 100)
RETURNS TABLE (
    "offset" bigint,
    epoch integer,
    id uuid,
    origin_topic text,
    origin_partition integer,
    origin_offset bigint,
    attempts integer,
    replayed boolean,
    produced_at timestamptz,
    key text,
    tag text,
    headers jsonb,
    payload_type text,
    payload_json json,
    payload_text text,
    payload_bytes bytea)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog
AS $$
DECLARE
    replayed_to bigint;
BEGIN
    IF NOT mq.has_group_privilege(dead_letters."group", 'consume') THEN
        RAISE EXCEPTION 'permission denied for consumer group "%"', dead_letters."group"
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'This needs the consume privilege on it.',
                  HINT = 'The consumer group''s owner grants it with mq.grant_group().';
    END IF;
    SELECT g.dlq_replayed INTO replayed_to
      FROM mq.groups g WHERE g."group" = dead_letters."group";
    IF NOT FOUND THEN
        RAISE EXCEPTION 'consumer group "%" does not exist', dead_letters."group"
            USING ERRCODE = 'undefined_object',
                  HINT = 'The groups are listed in mq.groups.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM mq.topics t WHERE t.name = dead_letters."group" || '.dlq') THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT r."offset", r.epoch, r.id, r.headers ->> 'mq.origin_topic',
           (r.headers ->> 'mq.origin_partition')::integer,
           (r.headers ->> 'mq.origin_offset')::bigint,
           (r.headers ->> 'mq.attempt')::integer,
           r."offset" < replayed_to,
           r.produced_at, r.key, r.tag, r.headers, r.payload_type,
           r.payload_json, r.payload_text, r.payload_bytes
      FROM mq.read(dead_letters."group" || '.dlq', 0, from_offset, max) r;
END
$$;

COMMENT ON FUNCTION mq.dead_letters(text, bigint, integer) IS
'the messages in a group''s dead-letter topic, with where they came from and whether they were replayed';

-- In 0.1, EXECUTE on the functions was the whole check: every topic and
-- group stays open as it was (revoke with mq.revoke_topic and
-- mq.revoke_group).
INSERT INTO mq.topic_privilege (topic_id, grantee, privilege)
SELECT topic_id, 'public', p FROM mq.topic, unnest('{produce,consume}'::text[]) p;
INSERT INTO mq.group_privilege (group_id, grantee, privilege)
SELECT group_id, 'public', p FROM mq.consumer_group, unnest('{consume,manage}'::text[]) p;
-- a group's retry and dead-letter topics are its owner's, as mq makes them
UPDATE mq.topic t SET owner = g.owner
  FROM mq.consumer_group g
 WHERE t.name IN (g.name || '.retry', g.name || '.dlq');

REVOKE ALL ON FUNCTION
    mq.grant_topic(text, text, text), mq.revoke_topic(text, text, text),
    mq.grant_group(text, text, text), mq.revoke_group(text, text, text),
    mq.alter_topic_owner(text, text), mq.alter_group_owner(text, text)
    FROM PUBLIC;
REVOKE ALL ON mq.topic_privilege, mq.group_privilege, mq.privileges FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mq.has_topic_privilege(text, text),
                          mq.has_topic_privilege(text, text, text),
                          mq.has_group_privilege(text, text),
                          mq.has_group_privilege(text, text, text) TO PUBLIC;

-- Shared and key_shared subscriptions.
ALTER TABLE mq.subscription DROP CONSTRAINT subscription_mode_check;
ALTER TABLE mq.subscription ADD CONSTRAINT subscription_mode_check
    CHECK (mode IN ('clustering', 'broadcasting', 'shared', 'key_shared'));
ALTER TABLE mq.position ADD COLUMN acked int8multirange NOT NULL DEFAULT '{}';
ALTER TABLE mq.subscription
    ADD COLUMN share_reset_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp();

-- Shared and key_shared subscriptions: messages leased one by one and
-- settled by receipt.  An ack inserts the offsets it settles here, in the
-- consumer's transaction; the worker folds them into mq.position (the ack
-- floor, next_offset, and the acked offsets above it) and deletes them.
-- A row names its subscription by (group_id, topic_id, incarnation), the
-- subscription's share_reset_at when the ack was made: rows of a
-- subscription since dropped, re-created or seeked count for nothing and
-- the worker deletes them.  No foreign key: its check would lock the
-- subscription's row in every consumer's transaction.
CREATE TABLE mq.share_ack (
    group_id    integer NOT NULL,
    topic_id    integer NOT NULL,
    partition   integer NOT NULL,
    incarnation timestamptz NOT NULL,
    offsets     int8multirange NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 20000,
        autovacuum_vacuum_cost_delay = 0);
CREATE INDEX ON mq.share_ack (group_id, topic_id, partition);
SELECT pg_catalog.pg_extension_config_dump('mq.share_ack', '');

CREATE FUNCTION mq.receive("group" text, max integer DEFAULT 10,
                           visibility_timeout interval DEFAULT '30 seconds',
                           wait interval DEFAULT NULL)
RETURNS TABLE (
    receipt text,
    topic text,
    partition integer,
    "offset" bigint,
    epoch integer,
    id uuid,
    key text,
    tag text,
    headers jsonb,
    payload_type text,
    payload_json json,
    payload_text text,
    payload_bytes bytea,
    produced_at timestamptz,
    delivery_count integer)
AS 'MODULE_PATHNAME', 'mq_receive'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.receive(text, integer, interval, interval) IS
'lease up to max messages of a group''s shared subscriptions for the visibility timeout, with the receipts that settle them';

CREATE FUNCTION mq.ack(receipt text)
RETURNS integer
AS 'MODULE_PATHNAME', 'mq_ack_receipt'
LANGUAGE C VOLATILE;

CREATE FUNCTION mq.ack(receipts text[])
RETURNS integer
AS 'MODULE_PATHNAME', 'mq_ack_receipts'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.ack(text) IS
'settle a received message in the current transaction; returns 1, or 0 if it was settled already';
COMMENT ON FUNCTION mq.ack(text[]) IS
'settle received messages in the current transaction; returns how many this call settled';

CREATE FUNCTION mq.nack(receipt text, delay interval DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'mq_nack_receipt'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.nack(text, interval) IS
'give a received message back, delivered again after delay, or to the dead letters after max_retries; ''retry'' or ''dlq''';

CREATE FUNCTION mq.extend(receipt text, visibility_timeout interval)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'mq_extend_receipt'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.extend(text, interval) IS
'move the end of a received message''s lease to now plus visibility_timeout; returns it';

CREATE FUNCTION mq.share_windows(
    OUT group_id integer,
    OUT topic_id integer,
    OUT partition integer,
    OUT ack_floor bigint,
    OUT read_to bigint,
    OUT leased integer,
    OUT settling integer,
    OUT acked integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'mq_share_windows'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION mq.share_windows() IS
'the windows of the shared subscriptions in shared memory: floor, leased, being settled and acknowledged offsets per group and partition';

-- Per group and partition of a shared subscription: the ack floor, the
-- messages leased now, those acknowledged above the floor, those not
-- settled (offsets past the floor, less the acknowledged ones and the
-- restart gap, as in mq.lag), and the age of the oldest unsettled one.
CREATE VIEW mq.shared_lag WITH (security_barrier) AS
    SELECT g.name AS "group", t.name AS topic, p.partition,
           f.ack_floor, o.stable_offset,
           coalesce(w.leased, 0) + coalesce(w.settling, 0) AS in_flight,
           f.acked AS acked_above_floor,
           GREATEST(o.stable_offset - f.ack_floor - f.acked
                    - GREATEST(LEAST(o.stable_offset, coalesce(o.restart_gap_end, 0))
                               - GREATEST(f.ack_floor, o.restart_gap_start), 0), 0)
             AS unacked,
           now() - CASE WHEN f.ack_floor < o.stable_offset
                        THEN mq.first_unconsumed_at(t.name, p.partition, f.ack_floor) END
             AS oldest_unacked_age
      FROM mq.position p
      JOIN mq.subscription s USING (group_id, topic_id)
      JOIN mq.consumer_group g USING (group_id)
      JOIN mq.topic t USING (topic_id)
      LEFT JOIN mq.share_windows() w
        ON w.group_id = p.group_id AND w.topic_id = p.topic_id
       AND w.partition = p.partition
      CROSS JOIN LATERAL (
        SELECT coalesce(w.ack_floor, p.next_offset) AS ack_floor,
               coalesce(w.acked,
                        (SELECT coalesce(sum(upper(r) - lower(r)), 0)
                           FROM unnest(p.acked) r)::integer) AS acked) f
      CROSS JOIN LATERAL (
        SELECT x.stable_offset, x.restart_gap_start, x.restart_gap_end
          FROM mq.partition_offsets(t.name) x
         WHERE x.partition = p.partition) o
     WHERE s.mode IN ('shared', 'key_shared')
       AND mq.has_group_privilege(g.name, 'all')
       AND mq.has_topic_privilege(t.name, 'all');

REVOKE ALL ON FUNCTION mq.receive(text, integer, interval, interval),
    mq.ack(text), mq.ack(text[]), mq.nack(text, interval),
    mq.extend(text, interval), mq.share_windows() FROM PUBLIC;
REVOKE ALL ON mq.share_ack, mq.shared_lag FROM PUBLIC;

------------------------------------------------------------------------
-- Payload columns and consumer ids (saved privileges:
-- mq_update_payload_acl, above)
------------------------------------------------------------------------

DROP FUNCTION mq.read(text, integer, bigint, integer);
CREATE FUNCTION mq.read(
    topic text,
    partition integer,
    from_offset bigint DEFAULT 0,
    max integer DEFAULT 100)
RETURNS TABLE (
    "offset" bigint,
    epoch integer,
    id uuid,
    key text,
    tag text,
    headers jsonb,
    payload_type text,
    payload_json json,
    payload_text text,
    payload_bytes bytea,
    produced_at timestamptz)
AS 'MODULE_PATHNAME', 'mq_read'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.read(text, integer, bigint, integer) IS
'committed messages of a partition from an offset, strictly below its stable offset';

DROP FUNCTION mq.get(text, integer, bigint);
CREATE FUNCTION mq.get(topic text, partition integer, "offset" bigint)
RETURNS TABLE (partition integer, "offset" bigint, epoch integer, id uuid,
               key text, tag text, headers jsonb, payload_type text,
               payload_json json, payload_text text, payload_bytes bytea,
               produced_at timestamptz)
AS 'MODULE_PATHNAME', 'mq_get'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.get(text, integer, bigint) IS
'the committed message at an offset of a partition';

DROP FUNCTION mq.get_by_id(text, uuid);
CREATE FUNCTION mq.get_by_id(topic text, id uuid)
RETURNS TABLE (partition integer, "offset" bigint, epoch integer, id uuid,
               key text, tag text, headers jsonb, payload_type text,
               payload_json json, payload_text text, payload_bytes bytea,
               produced_at timestamptz)
AS 'MODULE_PATHNAME', 'mq_get_by_id'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.get_by_id(text, uuid) IS
'the committed message with an id';

DROP FUNCTION mq.get_by_key(text, text, integer);
CREATE FUNCTION mq.get_by_key(topic text, key text, max integer DEFAULT 10)
RETURNS TABLE (partition integer, "offset" bigint, epoch integer, id uuid,
               key text, tag text, headers jsonb, payload_type text,
               payload_json json, payload_text text, payload_bytes bytea,
               produced_at timestamptz)
AS 'MODULE_PATHNAME', 'mq_get_by_key'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.get_by_key(text, text, integer) IS
'the most recent committed messages with a key, newest first';

DROP FUNCTION mq.get_by_time(text, timestamptz, timestamptz, integer);
CREATE FUNCTION mq.get_by_time(topic text, from_time timestamptz,
                               to_time timestamptz, max integer DEFAULT 1000)
RETURNS TABLE (partition integer, "offset" bigint, epoch integer, id uuid,
               key text, tag text, headers jsonb, payload_type text,
               payload_json json, payload_text text, payload_bytes bytea,
               produced_at timestamptz)
AS 'MODULE_PATHNAME', 'mq_get_by_time'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.get_by_time(text, timestamptz, timestamptz, integer) IS
'committed messages produced in a time range, oldest first';

DROP FUNCTION mq.fetch(text, text, integer, integer, boolean, text, bigint);
CREATE FUNCTION mq.fetch(
    "group" text,
    topic text DEFAULT NULL,
    max integer DEFAULT 100,
    partition integer DEFAULT NULL,
    auto_commit boolean DEFAULT false,
    member_id text DEFAULT NULL,
    generation bigint DEFAULT NULL,
    consumer_id text DEFAULT NULL)
RETURNS TABLE (
    topic text,
    partition integer,
    "offset" bigint,
    epoch integer,
    id uuid,
    key text,
    tag text,
    headers jsonb,
    payload_type text,
    payload_json json,
    payload_text text,
    payload_bytes bytea,
    produced_at timestamptz)
AS 'MODULE_PATHNAME', 'mq_fetch'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.fetch(text, text, integer, integer, boolean, text, bigint, text) IS
'claim partitions of a group''s topics and return their next committed messages';

DROP FUNCTION mq.poll(text, text, integer, interval, integer, boolean, text, bigint);
CREATE FUNCTION mq.poll(
    "group" text,
    topic text DEFAULT NULL,
    max integer DEFAULT 100,
    wait interval DEFAULT interval '5 s',
    partition integer DEFAULT NULL,
    auto_commit boolean DEFAULT false,
    member_id text DEFAULT NULL,
    generation bigint DEFAULT NULL,
    consumer_id text DEFAULT NULL)
RETURNS TABLE (
    topic text,
    partition integer,
    "offset" bigint,
    epoch integer,
    id uuid,
    key text,
    tag text,
    headers jsonb,
    payload_type text,
    payload_json json,
    payload_text text,
    payload_bytes bytea,
    produced_at timestamptz)
AS 'MODULE_PATHNAME', 'mq_poll'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.poll(text, text, integer, interval, integer, boolean, text, bigint, text) IS
'mq.fetch that waits up to "wait" for messages when none are ready';


CREATE FUNCTION mq.send(
    topic text,
    payload json,
    key text DEFAULT NULL,
    tag text DEFAULT NULL,
    headers jsonb DEFAULT NULL,
    partition integer DEFAULT NULL,
    dedup_id text DEFAULT NULL,
    delay interval DEFAULT NULL,
    deliver_at timestamptz DEFAULT NULL,
    delay_level integer DEFAULT NULL,
    OUT id uuid,
    OUT partition integer,
    OUT duplicate boolean)
AS 'MODULE_PATHNAME', 'mq_send_json'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.send(text, json, text, text, jsonb, integer, text, interval, timestamptz, integer) IS
'send a JSON message as part of the current transaction, now or after a delay';

CREATE FUNCTION mq.send_batch(
    topic text,
    payloads json[],
    keys text[] DEFAULT NULL,
    tags text[] DEFAULT NULL,
    headers jsonb[] DEFAULT NULL,
    partition integer DEFAULT NULL,
    dedup_ids text[] DEFAULT NULL)
RETURNS TABLE (id uuid, partition integer, duplicate boolean)
AS 'MODULE_PATHNAME', 'mq_send_batch_json'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.send_batch(text, json[], text[], text[], jsonb[], integer, text[]) IS
'send many JSON messages as part of the current transaction';

CREATE FUNCTION mq.prepare(
    topic text,
    payload json,
    producer_group text,
    key text DEFAULT NULL,
    tag text DEFAULT NULL,
    headers jsonb DEFAULT NULL,
    partition integer DEFAULT NULL,
    check_after interval DEFAULT interval '6 s')
RETURNS uuid
AS 'MODULE_PATHNAME', 'mq_prepare_json'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.prepare(text, json, text, text, text, jsonb, integer, interval) IS
'prepare a half message: invisible until committed; returns its handle';

CREATE FUNCTION mq.commit("group" text, consumer_id text)
RETURNS integer
AS 'MODULE_PATHNAME', 'mq_commit_consumer'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.commit(text, text) IS
'commit the positions a consumer''s last auto-commit fetch of a group leased, from any session';

COMMENT ON FUNCTION mq.send(text, text, text, text, jsonb, integer, text, interval, timestamptz, integer) IS
'send a text message (a JSON message if it is a JSON object or array) as part of the current transaction, now or after a delay';
COMMENT ON FUNCTION mq.send(text, jsonb, text, text, jsonb, integer, text, interval, timestamptz, integer) IS
'send a JSON message as part of the current transaction, now or after a delay';
COMMENT ON FUNCTION mq.send_batch(text, text[], text[], text[], jsonb[], integer, text[]) IS
'send many text messages (JSON messages where they are JSON objects or arrays) as part of the current transaction';
COMMENT ON FUNCTION mq.send_batch(text, jsonb[], text[], text[], jsonb[], integer, text[]) IS
'send many JSON messages as part of the current transaction';

-- As a fresh install has them (the initial privileges pg_dump compares
-- with), then the saved grants, which are the users' and must not become
-- initial privileges too.
REVOKE ALL ON FUNCTION
    mq.read(text, integer, bigint, integer), mq.get(text, integer, bigint),
    mq.get_by_id(text, uuid), mq.get_by_key(text, text, integer),
    mq.get_by_time(text, timestamptz, timestamptz, integer),
    mq.fetch(text, text, integer, integer, boolean, text, bigint, text),
    mq.poll(text, text, integer, interval, integer, boolean, text, bigint, text),
    mq.dead_letters(text, bigint, integer),
    mq.send(text, json, text, text, jsonb, integer, text, interval, timestamptz, integer),
    mq.send_batch(text, json[], text[], text[], jsonb[], integer, text[]),
    mq.prepare(text, json, text, text, text, jsonb, integer, interval),
    mq.commit(text, text)
    FROM PUBLIC;
CREATE TEMPORARY TABLE mq_update_payload_initprivs AS
    SELECT p.oid, 'pg_catalog.pg_proc'::pg_catalog.regclass AS classoid,
           p.proacl AS acl
      FROM pg_catalog.pg_proc p
     WHERE p.oid IN (SELECT pg_catalog.substr(object, 10)::pg_catalog.regprocedure
                       FROM mq_update_payload_acl);
DO $$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT * FROM mq_update_payload_acl LOOP
        EXECUTE pg_catalog.format('GRANT %s ON %s TO %s%s',
                                  g.privilege_type, g.object, g.grantee,
                                  CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$$;
UPDATE pg_catalog.pg_init_privs i SET initprivs = t.acl
  FROM mq_update_payload_initprivs t
 WHERE i.objoid = t.oid AND i.classoid = t.classoid AND i.objsubid = 0
   AND t.acl IS NOT NULL;
DELETE FROM pg_catalog.pg_init_privs i
 USING mq_update_payload_initprivs t
 WHERE i.objoid = t.oid AND i.classoid = t.classoid AND i.objsubid = 0
   AND t.acl IS NULL;
DROP TABLE mq_update_payload_acl;
DROP TABLE mq_update_payload_initprivs;

-- Schema mq becomes a member of the extension, as a fresh 0.2 install has
-- it (mq.control).  0.1 was installed with schema = mq in its control file,
-- so PostgreSQL created the schema outside the extension, recorded the
-- extension in it (extnamespace) and made the extension depend on it.  Left
-- so, DROP EXTENSION would leave the schema behind, and this database's
-- dump could not be restored: pg_dump writes CREATE EXTENSION mq WITH
-- SCHEMA mq, which mq.control's schema = pg_catalog refuses.  So: record
-- the extension in pg_catalog (pinned, so a fresh install has no
-- dependency row on it), drop its dependency on schema mq, which would
-- otherwise make a cycle with the membership, and add the schema to the
-- extension.  ALTER EXTENSION ... SET SCHEMA cannot do the first two: mq
-- is not relocatable.
--
-- Writing the catalogs is safe here: mq.control has superuser = true and
-- is not trusted, so only a superuser runs this script, as itself; the
-- edits are part of the update's transaction, so an error undoes them with
-- the rest; and they leave exactly the rows CREATE EXTENSION of 0.2 makes.
UPDATE pg_catalog.pg_extension SET extnamespace = 'pg_catalog'::pg_catalog.regnamespace
 WHERE extname = 'mq';
DELETE FROM pg_catalog.pg_depend
 WHERE classid = 'pg_catalog.pg_extension'::pg_catalog.regclass
   AND objid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'mq')
   AND objsubid = 0
   AND refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
   AND refobjid = 'mq'::pg_catalog.regnamespace
   AND deptype = 'n';
ALTER EXTENSION mq ADD SCHEMA mq;
-- ADD records the schema's privileges as they are now, the grants users
-- made on it since 0.1, as initial privileges of the extension, which
-- pg_dump leaves out.  A fresh install has none: the grants stay the users'.
DELETE FROM pg_catalog.pg_init_privs
 WHERE classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
   AND objoid = 'mq'::pg_catalog.regnamespace;
