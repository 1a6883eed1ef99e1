-- mq 0.1 -> 0.2: messages are stored as record batches.
--
-- Each segment table is rewritten from one row per message to one row per
-- record batch (consecutive offsets of one partition, packed and
-- compressed), under its name, owner and privileges; offsets, ids, times
-- and positions do not change.  Topics get a compression setting (lz4 by
-- default), mq.create_topic and mq.alter_topic a compression argument (the
-- EXECUTE privileges granted on the old ones are granted on the new), and
-- mq.messages shows a topic's messages one row per message.

\echo Use "ALTER EXTENSION mq UPDATE TO '0.2'" to load this file. \quit

ALTER TABLE mq.topic
    ADD COLUMN compression text NOT NULL DEFAULT 'lz4'
        CHECK (compression IN ('lz4', 'pglz', 'none'));

-- The old signatures' grants, to apply to the new ones.
CREATE TEMPORARY TABLE mq_update_grants AS
    SELECT p.proname::text AS name,
           CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                ELSE pg_catalog.quote_ident(r.rolname) END AS grantee
      FROM pg_catalog.pg_proc p
     CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
      LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
     WHERE p.oid IN ('mq.create_topic(text, integer, interval, bigint, bigint, interval, boolean, interval)'::pg_catalog.regprocedure,
                     'mq.alter_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, boolean, boolean)'::pg_catalog.regprocedure)
       AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner;

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
RETURNS TABLE (partition integer, "offset" bigint, id uuid, key text, tag text,
               headers jsonb, payload bytea, payload_type text,
               produced_at timestamptz)
AS 'MODULE_PATHNAME', 'mq_messages'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION mq.messages(text, integer) IS
'the committed messages of a topic (or of one partition), one row per message, in partition and offset order';

REVOKE ALL ON FUNCTION
    mq.create_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, text),
    mq.alter_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, boolean, boolean, text),
    mq.messages(text, integer)
    FROM PUBLIC;

-- What the extension itself grants on them (nothing to PUBLIC): the
-- initial privileges pg_dump compares with.  The grants below are the
-- users', so they must not become initial privileges too.
CREATE TEMPORARY TABLE mq_update_initprivs AS
    SELECT p.oid, p.proacl FROM pg_catalog.pg_proc p
     WHERE p.oid IN ('mq.create_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, text)'::pg_catalog.regprocedure,
                     'mq.alter_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, boolean, boolean, text)'::pg_catalog.regprocedure);

DO $$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT * FROM mq_update_grants LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s',
            CASE g.name
                WHEN 'create_topic' THEN 'mq.create_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, text)'
                ELSE 'mq.alter_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, boolean, boolean, text)'
            END, g.grantee);
    END LOOP;
END
$$;
DROP TABLE mq_update_grants;
UPDATE pg_catalog.pg_init_privs i SET initprivs = t.proacl
  FROM mq_update_initprivs t
 WHERE i.objoid = t.oid AND i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass
   AND i.objsubid = 0;
DROP TABLE mq_update_initprivs;

CREATE OR REPLACE VIEW mq.topics AS
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

CREATE VIEW mq.parked AS
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
