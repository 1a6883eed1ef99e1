--
-- The mq.* settings: names, defaults, units, contexts and bounds.
--

-- Every setting, as the server sees it.  The test configuration sets
-- mq.max_databases to 2 and mq.worker_naptime to 100ms.
SELECT name, setting, unit, context, vartype, boot_val, min_val, max_val
  FROM pg_settings
 WHERE name LIKE 'mq.%'
 ORDER BY name;

-- Settings that size shared memory need a restart.
SET mq.max_topics = 10;
\echo :LAST_ERROR_SQLSTATE
SET mq.max_databases = 10;
\echo :LAST_ERROR_SQLSTATE

-- Worker cadence is changed in the configuration file, not per session.
SET mq.worker_naptime = '5s';
\echo :LAST_ERROR_SQLSTATE

-- Values outside the bounds are refused, also by ALTER SYSTEM.
ALTER SYSTEM SET mq.worker_naptime = '1ms';
\echo :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET mq.launcher_naptime = '2h';
\echo :LAST_ERROR_SQLSTATE

-- Units parse as for core settings.
SHOW mq.worker_naptime;
SHOW mq.launcher_naptime;

-- The mq. prefix is reserved: a misspelt setting is an error, not a
-- silently created placeholder.
SET mq.max_topic = 10;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM pg_settings WHERE name = 'mq.max_topic';
