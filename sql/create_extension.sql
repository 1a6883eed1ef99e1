--
-- Installing mq: the extension, its schema and what PUBLIC may do.
--

CREATE EXTENSION mq;

-- mq lives in the fixed schema mq and cannot be moved out of it.  The
-- install script creates the schema, so that it is a member of the
-- extension (DROP EXTENSION removes it); the extension itself is recorded
-- in pg_catalog.
SELECT e.extname, e.extversion, e.extrelocatable, n.nspname
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'mq';
SELECT pg_describe_object(classid, objid, objsubid) AS member
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'mq')
   AND classid = 'pg_namespace'::regclass AND deptype = 'e';
ALTER EXTENSION mq SET SCHEMA public;
\echo :LAST_ERROR_SQLSTATE

-- A second CREATE EXTENSION is refused; IF NOT EXISTS is a no-op.
CREATE EXTENSION mq;
\echo :LAST_ERROR_SQLSTATE
CREATE EXTENSION IF NOT EXISTS mq;

-- The SQL surface so far.
SELECT p.oid::regprocedure AS function, obj_description(p.oid, 'pg_proc')
  FROM pg_proc p
 WHERE p.pronamespace = 'mq'::regnamespace
 ORDER BY p.proname, p.oid::regprocedure::text;

-- No function is executable by PUBLIC until granted.
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute
  FROM pg_proc p
 WHERE p.pronamespace = 'mq'::regnamespace
 ORDER BY 1;
CREATE ROLE mq_regress_user;
SET ROLE mq_regress_user;
SELECT * FROM mq.shmem_usage();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT USAGE ON SCHEMA mq TO mq_regress_user;
GRANT EXECUTE ON FUNCTION mq.shmem_usage() TO mq_regress_user;
SET ROLE mq_regress_user;
SELECT area FROM mq.shmem_usage() ORDER BY 1;
RESET ROLE;
REVOKE ALL ON SCHEMA mq FROM mq_regress_user;
REVOKE ALL ON FUNCTION mq.shmem_usage() FROM mq_regress_user;
DROP ROLE mq_regress_user;

-- A transaction that drops (or creates) the extension cannot be prepared:
-- its worker bookkeeping would be lost with the session.  The refusal
-- rolls the transaction back, so the extension is still there.
BEGIN;
DROP EXTENSION mq;
PREPARE TRANSACTION 'mq_drop';
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS mq_installed FROM pg_extension WHERE extname = 'mq';

-- Dropping and creating again in one transaction works.
BEGIN;
DROP EXTENSION mq;
CREATE EXTENSION mq;
COMMIT;
SELECT count(*) AS mq_installed FROM pg_extension WHERE extname = 'mq';

-- DROP EXTENSION mq CASCADE leaves nothing of mq behind: its objects, the
-- topics' segment tables (not members, so that pg_dump saves them, but
-- dependent on the extension) and schema mq itself, a member.
SELECT mq.create_topic('dropped', partitions => 2) > 0 AS created;
SELECT partition FROM mq.send('dropped', 'x'::text, partition => 1);
SELECT e.oid AS mq_extension, n.oid AS mq_schema,
       (SELECT string_agg(relid::oid::text, ',') FROM mq.segment) AS mq_segments
  FROM pg_extension e, pg_namespace n
 WHERE e.extname = 'mq' AND n.nspname = 'mq' \gset
SET client_min_messages = warning;
DROP EXTENSION mq CASCADE;
RESET client_min_messages;
SELECT count(*) AS mq_schemas_left FROM pg_namespace WHERE nspname = 'mq';
SELECT count(*) AS segment_tables_left FROM pg_class WHERE oid IN (:mq_segments);
SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = :mq_schema)
     + (SELECT count(*) FROM pg_proc WHERE pronamespace = :mq_schema)
     + (SELECT count(*) FROM pg_type WHERE typnamespace = :mq_schema)
     + (SELECT count(*) FROM pg_depend
         WHERE (refclassid = 'pg_extension'::regclass AND refobjid = :mq_extension)
            OR (classid = 'pg_extension'::regclass AND objid = :mq_extension))
       AS objects_left;

-- A schema mq that mq did not make is never adopted: CREATE EXTENSION
-- fails (42P06) and leaves the user's schema as it was.
CREATE SCHEMA mq;
CREATE TABLE mq.mine (x integer);
CREATE EXTENSION mq;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS mq_installed FROM pg_extension WHERE extname = 'mq';
SELECT relname FROM pg_class WHERE relnamespace = 'mq'::regnamespace;
DROP SCHEMA mq CASCADE;

-- The schema is fixed: naming another one is refused (0A000), and one that
-- does not exist, mq included, is refused as such (3F000) ...
CREATE SCHEMA mq_elsewhere;
CREATE EXTENSION mq SCHEMA mq_elsewhere;
\echo :LAST_ERROR_SQLSTATE
CREATE EXTENSION mq SCHEMA mq;
\echo :LAST_ERROR_SQLSTATE
-- ... except with CASCADE, with which PostgreSQL ignores it: mq is
-- installed as without it.
CREATE EXTENSION mq SCHEMA mq_elsewhere CASCADE;
SELECT count(*) AS objects_elsewhere FROM pg_class
 WHERE relnamespace = 'mq_elsewhere'::regnamespace;
SELECT count(*) > 0 AS objects_in_mq FROM pg_class
 WHERE relnamespace = 'mq'::regnamespace;
DROP SCHEMA mq_elsewhere;
