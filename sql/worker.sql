--
-- The database worker: started by CREATE EXTENSION, visible in
-- pg_stat_activity and mq.worker_status(), restarted when it dies, stopped
-- by DROP EXTENSION.
--

-- wait_for: poll a boolean query until it holds, for up to 30 seconds.
-- Returns whether it held; the tests show that value, so a worker that
-- never reaches the expected state fails the test.  pg_stat_activity is
-- read afresh each time (a transaction otherwise keeps its first view).
CREATE FUNCTION wait_for(condition text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + interval '30 s';
    ok boolean;
BEGIN
    LOOP
        PERFORM pg_stat_clear_snapshot();
        EXECUTE condition INTO ok;
        IF ok OR clock_timestamp() > deadline THEN
            RETURN coalesce(ok, false);
        END IF;
        PERFORM pg_sleep(0.02);
    END LOOP;
END
$$;

-- This database's row of mq.worker_status() (a function rather than a view,
-- so that it does not keep DROP EXTENSION from working).
CREATE FUNCTION my_worker(OUT state text, OUT pid integer, OUT ticks bigint,
                          OUT last_activity timestamptz, OUT restarts integer)
LANGUAGE sql AS $$
    SELECT state, pid, ticks, last_activity, restarts FROM mq.worker_status()
     WHERE role = 'worker' AND database = current_database()
$$;

-- The extension was created by the earlier tests: its worker runs.
SELECT wait_for($$SELECT state = 'running' FROM my_worker()$$);

-- One launcher, and one worker for this database.
SELECT role, database, state, pid IS NOT NULL AS has_pid,
       started_at <= now() AS started, restarts
  FROM mq.worker_status()
 WHERE role = 'launcher' OR database = current_database()
 ORDER BY role;

-- Both are background processes with a clear type and application name.
SELECT a.backend_type, a.application_name, a.datname
  FROM pg_stat_activity a JOIN mq.worker_status() w ON w.pid = a.pid
 WHERE w.role = 'launcher' OR w.database = current_database()
 ORDER BY a.backend_type;

-- The worker does a pass every mq.worker_naptime (100ms here).
SELECT ticks AS ticks_before, last_activity AS last_before FROM my_worker() \gset
SELECT wait_for(format($$SELECT ticks > %s + 2 FROM my_worker()$$, :ticks_before));
SELECT last_activity > :'last_before' AS activity_advanced FROM my_worker();

-- Terminated, it comes back as a new process and counts the restart.
SELECT pid AS old_pid FROM my_worker() \gset
SELECT pg_terminate_backend(:old_pid);
SELECT wait_for(format($$SELECT state = 'running' AND pid <> %s FROM my_worker()$$, :old_pid));
SELECT restarts FROM my_worker();

-- DROP EXTENSION stops it (it is woken at commit and exits for good)...
SELECT pid AS old_pid FROM my_worker() \gset
DROP EXTENSION mq;
SELECT wait_for(format($$SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = %s)$$, :old_pid));

-- ... and a rolled-back CREATE EXTENSION does not start one.
BEGIN;
CREATE EXTENSION mq;
ROLLBACK;
SELECT pg_sleep(0.5);
SELECT count(*) AS mq_workers_here FROM pg_stat_activity
 WHERE backend_type = 'mq worker' AND datname = current_database();

-- CREATE EXTENSION starts it again, with a fresh entry.
CREATE EXTENSION mq;
SELECT wait_for($$SELECT state = 'running' FROM my_worker()$$);
SELECT restarts FROM my_worker();
