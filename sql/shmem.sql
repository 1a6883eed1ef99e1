--
-- The shared-memory directories: occupancy, and a clean error when full.
--

-- Each directory with its capacity and the setting that sizes it.  This
-- database holds one of the two database slots (mq.max_databases = 2).
SELECT area, used, capacity, setting FROM mq.shmem_usage() ORDER BY area;

-- A second database takes the last slot...
CREATE DATABASE mq_regress_a;
\c mq_regress_a
CREATE EXTENSION mq;
SELECT area, used, capacity FROM mq.shmem_usage() WHERE area = 'databases';

-- ... so a third is refused with SQLSTATE 53400 and a hint naming the
-- setting, and nothing of it is left behind.
CREATE DATABASE mq_regress_b;
\c mq_regress_b
CREATE EXTENSION mq;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS mq_installed FROM pg_extension WHERE extname = 'mq';

-- DROP DATABASE of a database whose worker is running succeeds: the
-- worker is paused for it (without that, the drop fails with "database is
-- being accessed by other users").  The slot is then free again.
\c contrib_regression
DROP DATABASE mq_regress_a;
SELECT wait_for($$SELECT used = 1 FROM mq.shmem_usage() WHERE area = 'databases'$$);
\c mq_regress_b
CREATE EXTENSION mq;
SELECT area, used, capacity FROM mq.shmem_usage() WHERE area = 'databases';
\c contrib_regression
DROP DATABASE mq_regress_b;
