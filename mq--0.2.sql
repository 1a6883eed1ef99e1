/* mq--0.2.sql: install script of the mq extension */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION mq" to load this file. \quit

-- A member of the extension, so that DROP EXTENSION mq CASCADE removes it
-- with the segment tables in it.  Creating it here, rather than naming it
-- in mq.control, also refuses a schema mq that exists already (42P06)
-- rather than installing into it.
CREATE SCHEMA mq;
COMMENT ON SCHEMA mq IS 'mq: a transactional message broker';

-- The launcher and one row per database worker.
CREATE FUNCTION mq.worker_status(
    OUT role text,
    OUT database name,
    OUT pid integer,
    OUT state text,
    OUT started_at timestamptz,
    OUT last_activity timestamptz,
    OUT ticks bigint,
    OUT restarts integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'mq_worker_status'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION mq.worker_status() IS
'the mq launcher and the worker of every database where mq is installed';

-- Occupancy of the shared-memory directories.
CREATE FUNCTION mq.shmem_usage(
    OUT area text,
    OUT used bigint,
    OUT capacity bigint,
    OUT setting text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'mq_shmem_usage'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION mq.shmem_usage() IS
'slots in use in mq''s shared-memory directories, and the setting that sizes each';


------------------------------------------------------------------------
-- Topics and their storage
------------------------------------------------------------------------

-- One row per topic.  Names: 1 to 200 characters from [A-Za-z0-9._-],
-- checked by mq.create_topic() with a clear error, and here as a backstop.
CREATE TABLE mq.topic (
    topic_id        integer PRIMARY KEY,
    name            text NOT NULL UNIQUE
                    CHECK (name ~ '^[A-Za-z0-9._-]{1,200}$'),
    partitions      integer NOT NULL CHECK (partitions BETWEEN 1 AND 100000),
    retention       interval,
    retention_bytes bigint CHECK (retention_bytes > 0),
    segment_bytes   bigint NOT NULL CHECK (segment_bytes > 0),
    segment_age     interval NOT NULL,
    notify          boolean NOT NULL,
    dedup_window    interval NOT NULL CHECK (dedup_window > interval '0'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    compression     text NOT NULL DEFAULT 'lz4'
                    CHECK (compression IN ('lz4', 'pglz', 'none')),
    -- the role that created it, by name (see mq.grant_topic)
    owner           text NOT NULL DEFAULT CURRENT_USER
);
CREATE SEQUENCE mq.topic_id_seq AS integer OWNED BY mq.topic.topic_id;

-- Privileges granted on a topic by its owner: roles by name ('public' for
-- every role), so that a dump restores them into another cluster.
CREATE TABLE mq.topic_privilege (
    topic_id  integer NOT NULL REFERENCES mq.topic ON DELETE CASCADE,
    grantee   text NOT NULL,
    privilege text NOT NULL CHECK (privilege IN ('produce', 'consume', 'manage')),
    PRIMARY KEY (topic_id, grantee, privilege)
);
SELECT pg_catalog.pg_extension_config_dump('mq.topic_privilege', '');

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


-- Message storage: each topic's log is a sequence of segment tables
-- (mq.seg_<topic id>_<segment number>), one row per record batch (the
-- messages one transaction committed to one partition, packed and
-- compressed); retention drops whole segments.  mq.messages shows them one
-- row per message.
CREATE TABLE mq.segment (
    topic_id    integer NOT NULL REFERENCES mq.topic ON DELETE CASCADE,
    segment_no  integer NOT NULL,
    relid       regclass NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic_id, segment_no)
);

-- Durable per-partition marks.  Offsets below high_mark may have been
-- handed out and are never handed out again; producers move it ahead in
-- steps with a non-transactional in-place update (like a sequence's
-- log-ahead), so a restart continues past every offset ever assigned.
CREATE TABLE mq.partition (
    topic_id    integer NOT NULL REFERENCES mq.topic ON DELETE CASCADE,
    partition   integer NOT NULL,
    high_mark   bigint NOT NULL DEFAULT 0,
    log_start   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (topic_id, partition)
);

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

CREATE FUNCTION mq.roll_segment(topic text)
RETURNS integer
AS 'MODULE_PATHNAME', 'mq_roll_segment'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION mq.roll_segment(text) IS
'start a new segment for a topic now (the worker does it by segment_bytes and segment_age); returns its number';

-- Deduplication ids seen by mq.send, until they expire (the worker deletes
-- expired rows).  A second send with the same id within the topic's
-- dedup_window is not stored again.
CREATE TABLE mq.dedup (
    topic_id    integer NOT NULL REFERENCES mq.topic ON DELETE CASCADE,
    dedup_id    text NOT NULL,
    id          uuid NOT NULL,
    partition   integer NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (topic_id, dedup_id)
);
CREATE INDEX ON mq.dedup (expires_at);

CREATE FUNCTION mq.drop_topic(name text, if_exists boolean DEFAULT false)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mq_drop_topic'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.drop_topic(text, boolean) IS
'drop a topic and all its messages';

------------------------------------------------------------------------
-- Producing
------------------------------------------------------------------------

CREATE FUNCTION mq.send(
    topic text,
    payload text,
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
AS 'MODULE_PATHNAME', 'mq_send_text'
LANGUAGE C VOLATILE;

CREATE FUNCTION mq.send(
    topic text,
    payload jsonb,
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
AS 'MODULE_PATHNAME', 'mq_send_jsonb'
LANGUAGE C VOLATILE;

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

CREATE FUNCTION mq.send(
    topic text,
    payload bytea,
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
AS 'MODULE_PATHNAME', 'mq_send_bytea'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.send(text, text, text, text, jsonb, integer, text, interval, timestamptz, integer) IS
'send a text message (a JSON message if it is a JSON object or array) as part of the current transaction, now or after a delay';
COMMENT ON FUNCTION mq.send(text, jsonb, text, text, jsonb, integer, text, interval, timestamptz, integer) IS
'send a JSON message as part of the current transaction, now or after a delay';
COMMENT ON FUNCTION mq.send(text, json, text, text, jsonb, integer, text, interval, timestamptz, integer) IS
'send a JSON message as part of the current transaction, now or after a delay';
COMMENT ON FUNCTION mq.send(text, bytea, text, text, jsonb, integer, text, interval, timestamptz, integer) IS
'send a bytea message as part of the current transaction, now or after a delay';

CREATE FUNCTION mq.send_batch(
    topic text,
    payloads text[],
    keys text[] DEFAULT NULL,
    tags text[] DEFAULT NULL,
    headers jsonb[] DEFAULT NULL,
    partition integer DEFAULT NULL,
    dedup_ids text[] DEFAULT NULL)
RETURNS TABLE (id uuid, partition integer, duplicate boolean)
AS 'MODULE_PATHNAME', 'mq_send_batch_text'
LANGUAGE C VOLATILE;

CREATE FUNCTION mq.send_batch(
    topic text,
    payloads jsonb[],
    keys text[] DEFAULT NULL,
    tags text[] DEFAULT NULL,
    headers jsonb[] DEFAULT NULL,
    partition integer DEFAULT NULL,
    dedup_ids text[] DEFAULT NULL)
RETURNS TABLE (id uuid, partition integer, duplicate boolean)
AS 'MODULE_PATHNAME', 'mq_send_batch_jsonb'
LANGUAGE C VOLATILE;

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

CREATE FUNCTION mq.send_batch(
    topic text,
    payloads bytea[],
    keys text[] DEFAULT NULL,
    tags text[] DEFAULT NULL,
    headers jsonb[] DEFAULT NULL,
    partition integer DEFAULT NULL,
    dedup_ids text[] DEFAULT NULL)
RETURNS TABLE (id uuid, partition integer, duplicate boolean)
AS 'MODULE_PATHNAME', 'mq_send_batch_bytea'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.send_batch(text, text[], text[], text[], jsonb[], integer, text[]) IS
'send many text messages (JSON messages where they are JSON objects or arrays) as part of the current transaction';
COMMENT ON FUNCTION mq.send_batch(text, jsonb[], text[], text[], jsonb[], integer, text[]) IS
'send many JSON messages as part of the current transaction';
COMMENT ON FUNCTION mq.send_batch(text, json[], text[], text[], jsonb[], integer, text[]) IS
'send many JSON messages as part of the current transaction';
COMMENT ON FUNCTION mq.send_batch(text, bytea[], text[], text[], jsonb[], integer, text[]) IS
'send many bytea messages as part of the current transaction';

-- Kafka's default partitioner: the partition a key goes to.
CREATE FUNCTION mq.partition_for(key text, partitions integer)
RETURNS integer
AS 'MODULE_PATHNAME', 'mq_partition_for'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION mq.partition_for(text, integer) IS
'the partition Kafka''s default partitioner (murmur2) picks for a key';

------------------------------------------------------------------------
-- Reading the log
------------------------------------------------------------------------

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

-- Lookups, each served by an index of the segment tables.
CREATE FUNCTION mq.get(topic text, partition integer, "offset" bigint)
RETURNS TABLE (partition integer, "offset" bigint, epoch integer, id uuid,
               key text, tag text, headers jsonb, payload_type text,
               payload_json json, payload_text text, payload_bytes bytea,
               produced_at timestamptz)
AS 'MODULE_PATHNAME', 'mq_get'
LANGUAGE C VOLATILE;

CREATE FUNCTION mq.get_by_id(topic text, id uuid)
RETURNS TABLE (partition integer, "offset" bigint, epoch integer, id uuid,
               key text, tag text, headers jsonb, payload_type text,
               payload_json json, payload_text text, payload_bytes bytea,
               produced_at timestamptz)
AS 'MODULE_PATHNAME', 'mq_get_by_id'
LANGUAGE C VOLATILE;

CREATE FUNCTION mq.get_by_key(topic text, key text, max integer DEFAULT 10)
RETURNS TABLE (partition integer, "offset" bigint, epoch integer, id uuid,
               key text, tag text, headers jsonb, payload_type text,
               payload_json json, payload_text text, payload_bytes bytea,
               produced_at timestamptz)
AS 'MODULE_PATHNAME', 'mq_get_by_key'
LANGUAGE C VOLATILE;

CREATE FUNCTION mq.get_by_time(topic text, from_time timestamptz,
                               to_time timestamptz, max integer DEFAULT 1000)
RETURNS TABLE (partition integer, "offset" bigint, epoch integer, id uuid,
               key text, tag text, headers jsonb, payload_type text,
               payload_json json, payload_text text, payload_bytes bytea,
               produced_at timestamptz)
AS 'MODULE_PATHNAME', 'mq_get_by_time'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.get(text, integer, bigint) IS
'the committed message at an offset of a partition';
COMMENT ON FUNCTION mq.get_by_id(text, uuid) IS
'the committed message with an id';
COMMENT ON FUNCTION mq.get_by_key(text, text, integer) IS
'the most recent committed messages with a key, newest first';
COMMENT ON FUNCTION mq.get_by_time(text, timestamptz, timestamptz, integer) IS
'committed messages produced in a time range, oldest first';

CREATE FUNCTION mq.convert_segments() RETURNS integer
AS 'MODULE_PATHNAME', 'mq_convert_segments'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.convert_segments() IS
'rewrite every segment of mq 0.1 (one row per message) as record batches; returns how many';

CREATE FUNCTION mq.messages(topic text, partition integer DEFAULT NULL)
RETURNS TABLE (partition integer, "offset" bigint, epoch integer, id uuid,
               key text, tag text, headers jsonb, payload_type text,
               payload_json json, payload_text text, payload_bytes bytea,
               produced_at timestamptz)
AS 'MODULE_PATHNAME', 'mq_messages'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.messages(text, integer) IS
'the committed messages of a topic (or of one partition), one row per message, in partition and offset order';

-- The payload as the type it was sent with.
CREATE FUNCTION mq.payload_text(payload bytea, payload_type text)
RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$ SELECT CASE WHEN payload_type IN ('text', 'jsonb')
                  THEN convert_from(payload, current_setting('server_encoding')) END $$;

COMMENT ON FUNCTION mq.payload_text(bytea, text) IS
'the payload of a text or jsonb message as text, NULL for bytea';

CREATE FUNCTION mq.payload_jsonb(payload bytea, payload_type text)
RETURNS jsonb
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$ SELECT CASE WHEN payload_type = 'jsonb'
                  THEN convert_from(payload, current_setting('server_encoding'))::jsonb END $$;

COMMENT ON FUNCTION mq.payload_jsonb(bytea, text) IS
'the payload of a jsonb message as jsonb, NULL otherwise';

-- Per-partition offsets from shared memory (loading the topic if needed).
-- The restart gap: offsets from the log's end to the high mark a partition
-- continued from after a restart, never handed out (NULLs if none).
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

-- Topics and their marks survive pg_dump; segment tables are not members
-- of the extension, so pg_dump saves them as ordinary tables.
SELECT pg_catalog.pg_extension_config_dump('mq.topic', '');
SELECT pg_catalog.pg_extension_config_dump('mq.topic_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mq.segment', '');
SELECT pg_catalog.pg_extension_config_dump('mq.partition', '');
SELECT pg_catalog.pg_extension_config_dump('mq.dedup', '');

COMMENT ON FUNCTION mq.partition_offsets(text) IS
'end offset, stable offset, in-flight commits and restart gap of each partition of a topic';

CREATE VIEW mq.topics WITH (security_barrier) AS
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

CREATE VIEW mq.partitions WITH (security_barrier) AS
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

-- Nothing is callable by PUBLIC; docs/install.md says what to grant.

-- Consumer groups

CREATE TABLE mq.consumer_group (
    group_id    integer PRIMARY KEY,
    name        text NOT NULL UNIQUE
                CHECK (name ~ '^[A-Za-z0-9._-]{1,200}$'),
    strategy    text NOT NULL DEFAULT 'range'
                CHECK (strategy IN ('range', 'round_robin', 'sticky', 'consistent_hash')),
    generation  bigint NOT NULL DEFAULT 0,
    dlq_replayed bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- the role that created it, by name (see mq.grant_group)
    owner       text NOT NULL DEFAULT CURRENT_USER
) WITH (fillfactor = 70);
CREATE SEQUENCE mq.group_id_seq AS integer OWNED BY mq.consumer_group.group_id;

CREATE TABLE mq.group_privilege (
    group_id  integer NOT NULL REFERENCES mq.consumer_group ON DELETE CASCADE,
    grantee   text NOT NULL,
    privilege text NOT NULL CHECK (privilege IN ('consume', 'manage')),
    PRIMARY KEY (group_id, grantee, privilege)
);
SELECT pg_catalog.pg_extension_config_dump('mq.group_privilege', '');

CREATE TABLE mq.subscription (
    group_id    integer NOT NULL REFERENCES mq.consumer_group ON DELETE CASCADE,
    topic_id    integer NOT NULL REFERENCES mq.topic ON DELETE CASCADE,
    mode        text NOT NULL
                CHECK (mode IN ('clustering', 'broadcasting', 'shared', 'key_shared')),
    tags        text[],
    filter      jsonpath,
    ordered     boolean NOT NULL,
    max_retries integer NOT NULL CHECK (max_retries BETWEEN 0 AND 1000),
    start       text NOT NULL,
    start_at    timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- shared modes: when it was made or last seeked; leases and receipts
    -- of an earlier one are void
    share_reset_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    PRIMARY KEY (group_id, topic_id)
);
CREATE INDEX ON mq.subscription (topic_id);

-- One row per (group, topic, partition), and per member in broadcasting
-- mode (member_id '' in clustering mode).  Updated in place on every
-- commit: no indexed column changes, and the free space on each page lets
-- the updates be HOT.
CREATE TABLE mq.position (
    group_id    integer NOT NULL,
    topic_id    integer NOT NULL,
    partition   integer NOT NULL,
    member_id   text NOT NULL DEFAULT '',
    next_offset bigint NOT NULL CHECK (next_offset >= 0),
    lease_owner bigint,
    lease_to    bigint,
    lease_until timestamptz,
    attempts    integer NOT NULL DEFAULT 0,
    committed_at timestamptz NOT NULL DEFAULT now(),
    -- shared modes: acknowledged offsets at or past next_offset
    acked       int8multirange NOT NULL DEFAULT '{}',
    PRIMARY KEY (group_id, topic_id, partition, member_id),
    FOREIGN KEY (group_id, topic_id) REFERENCES mq.subscription ON DELETE CASCADE
) WITH (fillfactor = 50);
CREATE INDEX ON mq.position (topic_id, partition);

CREATE TABLE mq.member (
    group_id        integer NOT NULL REFERENCES mq.consumer_group ON DELETE CASCADE,
    member_id       text NOT NULL CHECK (length(member_id) BETWEEN 1 AND 200),
    session_timeout interval NOT NULL,
    joined_at       timestamptz NOT NULL DEFAULT now(),
    last_seen       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, member_id)
) WITH (fillfactor = 50);

CREATE TABLE mq.assignment (
    group_id    integer NOT NULL,
    topic_id    integer NOT NULL,
    partition   integer NOT NULL,
    member_id   text NOT NULL,
    PRIMARY KEY (group_id, topic_id, partition),
    FOREIGN KEY (group_id, member_id) REFERENCES mq.member ON DELETE CASCADE,
    FOREIGN KEY (group_id, topic_id) REFERENCES mq.subscription ON DELETE CASCADE
);
CREATE INDEX ON mq.assignment (group_id, member_id);

SELECT pg_catalog.pg_extension_config_dump('mq.consumer_group', '');
SELECT pg_catalog.pg_extension_config_dump('mq.group_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mq.subscription', '');
SELECT pg_catalog.pg_extension_config_dump('mq.position', '');

CREATE FUNCTION mq.subscribe(
    "group" text,
    topic text,
    start text DEFAULT 'latest',
    mode text DEFAULT 'clustering',
    tags text DEFAULT NULL,
    filter text DEFAULT NULL,
    ordered boolean DEFAULT false,
    max_retries integer DEFAULT 16)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mq_subscribe'
LANGUAGE C VOLATILE;

CREATE FUNCTION mq.subscribe(
    "group" text,
    topic text,
    start timestamptz,
    mode text DEFAULT 'clustering',
    tags text DEFAULT NULL,
    filter text DEFAULT NULL,
    ordered boolean DEFAULT false,
    max_retries integer DEFAULT 16)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mq_subscribe_at'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.subscribe(text, text, text, text, text, text, boolean, integer) IS
'subscribe a consumer group to a topic from its earliest or latest offset; creates the group; returns true if the subscription is new';
COMMENT ON FUNCTION mq.subscribe(text, text, timestamptz, text, text, text, boolean, integer) IS
'subscribe a consumer group to a topic from the first message produced at or after a time';

CREATE FUNCTION mq.unsubscribe("group" text, topic text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mq_unsubscribe'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.unsubscribe(text, text) IS
'remove a group''s subscription to a topic and its positions';

CREATE FUNCTION mq.drop_group("group" text, if_exists boolean DEFAULT false)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mq_drop_group'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.drop_group(text, boolean) IS
'drop a consumer group with its subscriptions, positions and members';

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

CREATE FUNCTION mq.commit(
    "group" text,
    topic text,
    partition integer,
    next_offset bigint,
    member_id text DEFAULT NULL,
    generation bigint DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'mq_commit'
LANGUAGE C VOLATILE;

CREATE FUNCTION mq.commit("group" text)
RETURNS integer
AS 'MODULE_PATHNAME', 'mq_commit_fetched'
LANGUAGE C VOLATILE;

CREATE FUNCTION mq.commit("group" text, consumer_id text)
RETURNS integer
AS 'MODULE_PATHNAME', 'mq_commit_consumer'
LANGUAGE C VOLATILE;

CREATE FUNCTION mq.ack(
    "group" text,
    topic text,
    partition integer,
    "offset" bigint,
    member_id text DEFAULT NULL,
    generation bigint DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'mq_ack'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.commit(text, text, integer, bigint, text, bigint) IS
'set a group''s position in a partition (the next offset to consume), in the current transaction';
COMMENT ON FUNCTION mq.commit(text) IS
'commit the positions of everything this session fetched for a group in the current transaction, or in its last auto-commit fetch';
COMMENT ON FUNCTION mq.commit(text, text) IS
'commit the positions a consumer''s last auto-commit fetch of a group leased, from any session';
COMMENT ON FUNCTION mq.ack(text, text, integer, bigint, text, bigint) IS
'commit a group''s position just past a message';

CREATE FUNCTION mq.seek(
    "group" text,
    topic text,
    partition integer,
    "offset" bigint,
    member_id text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'mq_seek'
LANGUAGE C VOLATILE;

CREATE FUNCTION mq.seek(
    "group" text,
    topic text,
    "position" text,
    member_id text DEFAULT NULL)
RETURNS TABLE (partition integer, "offset" bigint)
AS 'MODULE_PATHNAME', 'mq_seek_position'
LANGUAGE C VOLATILE;

CREATE FUNCTION mq.seek(
    "group" text,
    topic text,
    at timestamptz,
    member_id text DEFAULT NULL)
RETURNS TABLE (partition integer, "offset" bigint)
AS 'MODULE_PATHNAME', 'mq_seek_time'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.seek(text, text, integer, bigint, text) IS
'move a group''s position in one partition; returns the position set';
COMMENT ON FUNCTION mq.seek(text, text, text, text) IS
'move a group''s positions in every partition of a topic to ''earliest'' or ''latest''; returns the positions set';
COMMENT ON FUNCTION mq.seek(text, text, timestamptz, text) IS
'move a group''s positions in every partition of a topic to the first message produced at or after a time; returns the positions set';

CREATE FUNCTION mq.join(
    "group" text,
    member_id text,
    session_timeout interval DEFAULT interval '45 s',
    strategy text DEFAULT NULL,
    OUT generation bigint,
    OUT assignment jsonb)
AS 'MODULE_PATHNAME', 'mq_join'
LANGUAGE C VOLATILE;

CREATE FUNCTION mq.heartbeat(
    "group" text,
    member_id text,
    generation bigint,
    OUT generation bigint,
    OUT assignment jsonb)
AS 'MODULE_PATHNAME', 'mq_heartbeat'
LANGUAGE C VOLATILE;

CREATE FUNCTION mq.leave("group" text, member_id text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mq_leave'
LANGUAGE C VOLATILE;

CREATE FUNCTION mq.expire_members()
RETURNS integer
AS 'MODULE_PATHNAME', 'mq_expire_members'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.join(text, text, interval, text) IS
'join a consumer group as a member; returns the generation and this member''s partitions';
COMMENT ON FUNCTION mq.heartbeat(text, text, bigint) IS
'keep a member alive; returns the current generation and the member''s partitions';
COMMENT ON FUNCTION mq.leave(text, text) IS
'leave a consumer group; its partitions go to the other members';
COMMENT ON FUNCTION mq.expire_members() IS
'remove members that missed their session timeout and rebalance their groups (the worker calls it)';

CREATE FUNCTION mq.nack(
    "group" text,
    topic text,
    partition integer,
    "offset" bigint,
    delay interval DEFAULT NULL,
    member_id text DEFAULT NULL,
    generation bigint DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'mq_nack'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.nack(text, text, integer, bigint, interval, text, bigint) IS
'hand a message back for redelivery to this group after a back-off, in place for ordered subscriptions, or to the group''s dead-letter topic after max_retries; returns retry, in_place or dlq';

CREATE FUNCTION mq.nack_batch(
    "group" text,
    topic text,
    partition integer,
    offsets bigint[],
    delay interval DEFAULT NULL,
    member_id text DEFAULT NULL,
    generation bigint DEFAULT NULL)
RETURNS TABLE ("offset" bigint, result text)
AS 'MODULE_PATHNAME', 'mq_nack_batch'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.nack_batch(text, text, integer, bigint[], interval, text, bigint) IS
'mq.nack for several messages of a partition; returns what happened to each';

CREATE FUNCTION mq.replay_dlq("group" text, max integer DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'mq_replay_dlq'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.replay_dlq(text, integer) IS
'send a group''s dead letters not yet replayed back to it through its retry topic; returns how many';

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

CREATE FUNCTION mq.first_unconsumed_at(topic text, partition integer, from_offset bigint)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'mq_first_unconsumed_at'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION mq.first_unconsumed_at(text, integer, bigint) IS
'when the first committed message at or after an offset, below the stable offset, was produced';

CREATE VIEW mq.groups WITH (security_barrier) AS
    SELECT g.name AS "group", g.strategy, g.generation,
           (SELECT count(*) FROM mq.member m WHERE m.group_id = g.group_id) AS members,
           (SELECT count(*) FROM mq.subscription s WHERE s.group_id = g.group_id) AS subscriptions,
           g.created_at, g.owner, g.dlq_replayed
      FROM mq.consumer_group g
     WHERE mq.has_group_privilege(g.name, 'all');

CREATE VIEW mq.subscriptions WITH (security_barrier) AS
    SELECT g.name AS "group", t.name AS topic, s.mode, s.tags, s.filter,
           s.ordered, s.max_retries, s.start, s.start_at, s.created_at
      FROM mq.subscription s
      JOIN mq.consumer_group g USING (group_id)
      JOIN mq.topic t USING (topic_id)
     WHERE mq.has_group_privilege(g.name, 'all');

CREATE VIEW mq.members WITH (security_barrier) AS
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
CREATE VIEW mq.lag WITH (security_barrier) AS
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

------------------------------------------------------------------------
-- Timed work: mq's clock, delayed messages, half messages
------------------------------------------------------------------------

CREATE FUNCTION mq.clock()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'mq_clock'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.clock() IS
'mq''s clock, against which delays, retries and check-backs fall due';

CREATE FUNCTION mq.advance_clock(by interval)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'mq_advance_clock'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.advance_clock(interval) IS
'for tests, with mq.test_clock on: move mq''s clock forward for the whole server';

-- Messages waiting for their due time (delayed sends and retries).  Rows
-- are deleted on release: vacuum them often whatever the table's size.
CREATE TABLE mq.delayed_message (
    id           uuid PRIMARY KEY,
    topic_id     integer NOT NULL REFERENCES mq.topic ON DELETE CASCADE,
    partition    integer,
    due_at       timestamptz NOT NULL,
    payload_type "char" NOT NULL,
    key          text COLLATE "C",
    tag          text COLLATE "C",
    headers      jsonb,
    payload      bytea NOT NULL,
    sent_at      timestamptz NOT NULL DEFAULT now(),
    -- failed releases so far, and the last one's error (see mq.parked)
    release_attempts integer NOT NULL DEFAULT 0,
    last_error   text
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 20000,
        autovacuum_vacuum_cost_delay = 0);
CREATE INDEX ON mq.delayed_message (due_at);
CREATE INDEX ON mq.delayed_message (topic_id);
SELECT pg_catalog.pg_extension_config_dump('mq.delayed_message', '');

CREATE FUNCTION mq.cancel_delayed(id uuid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mq_cancel_delayed'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.cancel_delayed(uuid) IS
'cancel a delayed message or a pending retry before it is released; false if there is none by that id';

CREATE VIEW mq.delayed WITH (security_barrier) AS
    SELECT t.name AS topic, count(*) AS pending,
           min(d.due_at) AS next_due, max(d.due_at) AS last_due
      FROM mq.delayed_message d
      JOIN mq.topic t USING (topic_id)
     WHERE mq.has_topic_privilege(t.name, 'produce, manage')
     GROUP BY t.name;

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
      JOIN mq.topic t USING (topic_id)
     WHERE mq.has_topic_privilege(t.name, 'produce, manage');

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

-- Half messages: prepared, then committed or rolled back by the producer
-- or by check-back; 'unresolved' after the last check-back.
CREATE TABLE mq.half_message (
    id             uuid PRIMARY KEY,
    topic_id       integer NOT NULL REFERENCES mq.topic ON DELETE CASCADE,
    producer_group text NOT NULL,
    partition      integer,
    payload_type   "char" NOT NULL,
    key            text COLLATE "C",
    tag            text COLLATE "C",
    headers        jsonb,
    payload        bytea NOT NULL,
    state          text NOT NULL DEFAULT 'prepared'
                   CHECK (state IN ('prepared', 'committed', 'rolled_back', 'unresolved')),
    prepared_at    timestamptz NOT NULL,
    checks         integer NOT NULL DEFAULT 0,
    next_check_at  timestamptz,
    last_check     text,
    resolved_at    timestamptz,
    resolved_by    text
) WITH (fillfactor = 70);
CREATE INDEX ON mq.half_message (next_check_at) WHERE state = 'prepared';
CREATE INDEX ON mq.half_message (resolved_at) WHERE state IN ('committed', 'rolled_back');
CREATE INDEX ON mq.half_message (topic_id);
SELECT pg_catalog.pg_extension_config_dump('mq.half_message', '');

-- owner: the registering role's name, so that a dump restores it into a
-- cluster where the role has another OID.
CREATE TABLE mq.checker (
    producer_group text PRIMARY KEY,
    checker        regprocedure NOT NULL,
    owner          text NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('mq.checker', '');

CREATE VIEW mq.half_messages WITH (security_barrier) AS
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

CREATE VIEW mq.unresolved AS
    SELECT handle, topic, producer_group, prepared_at, age, checks, last_check,
           key, tag, headers, payload, payload_type, payload_json,
           payload_text, payload_bytes
      FROM mq.half_messages
     WHERE state = 'unresolved';

CREATE FUNCTION mq.prepare(
    topic text,
    payload text,
    producer_group text,
    key text DEFAULT NULL,
    tag text DEFAULT NULL,
    headers jsonb DEFAULT NULL,
    partition integer DEFAULT NULL,
    check_after interval DEFAULT interval '6 s')
RETURNS uuid
AS 'MODULE_PATHNAME', 'mq_prepare_text'
LANGUAGE C VOLATILE;

CREATE FUNCTION mq.prepare(
    topic text,
    payload jsonb,
    producer_group text,
    key text DEFAULT NULL,
    tag text DEFAULT NULL,
    headers jsonb DEFAULT NULL,
    partition integer DEFAULT NULL,
    check_after interval DEFAULT interval '6 s')
RETURNS uuid
AS 'MODULE_PATHNAME', 'mq_prepare_jsonb'
LANGUAGE C VOLATILE;

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

CREATE FUNCTION mq.prepare(
    topic text,
    payload bytea,
    producer_group text,
    key text DEFAULT NULL,
    tag text DEFAULT NULL,
    headers jsonb DEFAULT NULL,
    partition integer DEFAULT NULL,
    check_after interval DEFAULT interval '6 s')
RETURNS uuid
AS 'MODULE_PATHNAME', 'mq_prepare_bytea'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.prepare(text, text, text, text, text, jsonb, integer, interval) IS
'prepare a half message: invisible until committed; returns its handle';
COMMENT ON FUNCTION mq.prepare(text, jsonb, text, text, text, jsonb, integer, interval) IS
'prepare a half message: invisible until committed; returns its handle';
COMMENT ON FUNCTION mq.prepare(text, json, text, text, text, jsonb, integer, interval) IS
'prepare a half message: invisible until committed; returns its handle';
COMMENT ON FUNCTION mq.prepare(text, bytea, text, text, text, jsonb, integer, interval) IS
'prepare a half message: invisible until committed; returns its handle';

CREATE FUNCTION mq.commit_prepared(handle uuid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mq_commit_prepared'
LANGUAGE C VOLATILE;

CREATE FUNCTION mq.rollback_prepared(handle uuid)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mq_rollback_prepared'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.commit_prepared(uuid) IS
'publish a half message in the current transaction; false if it was committed before';
COMMENT ON FUNCTION mq.rollback_prepared(uuid) IS
'discard a half message; false if it was rolled back before';

CREATE FUNCTION mq.register_checker(producer_group text, checker regprocedure)
RETURNS void
AS 'MODULE_PATHNAME', 'mq_register_checker'
LANGUAGE C VOLATILE;

CREATE FUNCTION mq.unregister_checker(producer_group text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'mq_unregister_checker'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.register_checker(text, regprocedure) IS
'have the worker call a function(mq.half_messages) returning ''commit'', ''rollback'' or ''unknown'' to check back a producer group''s half messages';
COMMENT ON FUNCTION mq.unregister_checker(text) IS
'check back a producer group''s half messages by NOTIFY again';

CREATE FUNCTION mq.worker_jobs(
    OUT database name,
    OUT job text,
    OUT last_run timestamptz,
    OUT runs bigint,
    OUT last_count bigint,
    OUT backlog bigint,
    OUT errors bigint,
    OUT last_error_at timestamptz,
    OUT last_error text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'mq_worker_jobs'
LANGUAGE C STRICT VOLATILE;

COMMENT ON FUNCTION mq.worker_jobs() IS
'each job of each database worker: its last run, what it did, the work left and its errors';

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

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA mq FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA mq FROM PUBLIC;
-- Like PostgreSQL's has_*_privilege functions, and what mq's views call.
GRANT EXECUTE ON FUNCTION mq.has_topic_privilege(text, text),
                          mq.has_topic_privilege(text, text, text),
                          mq.has_group_privilege(text, text),
                          mq.has_group_privilege(text, text, text) TO PUBLIC;
