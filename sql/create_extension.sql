--
-- Installing mq: the extension, its schema and what PUBLIC may do.
--

CREATE EXTENSION mq;

-- mq lives in the fixed schema mq and cannot be moved out of it.
SELECT e.extname, e.extversion, e.extrelocatable, n.nspname
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'mq';
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
