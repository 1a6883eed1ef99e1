/* mq--0.1.sql: install script of the mq extension */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION mq" to load this file. \quit

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

-- Nothing is callable by PUBLIC; docs/install.md says what to grant.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA mq FROM PUBLIC;
