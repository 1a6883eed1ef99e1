--
-- Half messages: prepare, commit and rollback by handle (idempotent),
-- check-back by a registered function or by NOTIFY, and their errors.
-- mq's clock is moved instead of sleeping.
--
\set VERBOSITY default
SET mq.test_clock = on;
SELECT mq.create_topic('h.payments') > 0 AS created;
SELECT mq.subscribe('h.ledger', 'h.payments', start => 'earliest');

CREATE FUNCTION pg_temp.wait_until(q text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    ok boolean;
BEGIN
    FOR i IN 1 .. 300 LOOP
        EXECUTE q INTO ok;
        IF ok THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN false;
END
$$;

-- A prepared message is invisible until committed; committing publishes
-- it with the handle as its id; a second commit says it was done before.
SELECT mq.prepare('h.payments', 'pay 1'::text, 'pay.service', key => 'p1') AS h1 \gset
SELECT topic, producer_group, state, checks, next_check_at - mq.clock() <= interval '6 s' AS first_check
  FROM mq.half_messages;
SELECT count(*) AS invisible FROM mq.fetch('h.ledger');
SELECT mq.commit_prepared(:'h1');
SELECT mq.commit_prepared(:'h1');
SELECT id = :'h1' AS same_id, key, payload_text
  FROM mq.fetch('h.ledger');
SELECT state, resolved_by, next_check_at FROM mq.half_messages WHERE handle = :'h1';

-- Rollback discards it, and is idempotent too; the opposite is refused.
SELECT mq.prepare('h.payments', 'pay 2'::text, 'pay.service') AS h2 \gset
SELECT mq.rollback_prepared(:'h2');
SELECT mq.rollback_prepared(:'h2');
-- (the handles are masked: they differ from run to run)
SELECT set_config('t.h1', :'h1', false) IS NOT NULL AS set,
       set_config('t.h2', :'h2', false) IS NOT NULL AS set;
DO $$
BEGIN
    PERFORM mq.commit_prepared(current_setting('t.h2')::uuid);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '% %', SQLSTATE, replace(SQLERRM, current_setting('t.h2'), '<h2>');
END $$;
DO $$
BEGIN
    PERFORM mq.rollback_prepared(current_setting('t.h1')::uuid);
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE '% %', SQLSTATE, replace(SQLERRM, current_setting('t.h1'), '<h1>');
END $$;

-- A commit_prepared that rolls back leaves the message prepared.
SELECT mq.prepare('h.payments', 'pay 3'::text, 'pay.service') AS h3 \gset
BEGIN;
SELECT mq.commit_prepared(:'h3');
ROLLBACK;
SELECT state FROM mq.half_messages WHERE handle = :'h3';
SELECT mq.rollback_prepared(:'h3');

-- Check-back by a registered function: the worker calls it with the half
-- message; 'commit' publishes, 'rollback' discards, anything else (an
-- error included) leaves it for the next check, mq.check_interval later.
CREATE FUNCTION public.h_checker(m mq.half_messages) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF m.key = 'fail' THEN
        RAISE EXCEPTION 'the order service is down';
    END IF;
    RETURN CASE m.key WHEN 'paid' THEN 'commit' WHEN 'void' THEN 'rollback'
                      ELSE 'unknown' END;
END
$$;
SELECT mq.register_checker('pay.service', 'public.h_checker(mq.half_messages)');
SELECT mq.prepare('h.payments', 'paid'::text, 'pay.service', key => 'paid') AS paid \gset
SELECT mq.prepare('h.payments', 'void'::text, 'pay.service', key => 'void') AS void \gset
SELECT mq.prepare('h.payments', 'fail'::text, 'pay.service', key => 'fail') AS fail \gset
SELECT mq.prepare('h.payments', 'maybe'::text, 'pay.service', key => 'maybe',
                  check_after => '1 min') AS maybe \gset
SELECT mq.advance_clock('6 s') IS NOT NULL AS advanced;
SELECT pg_temp.wait_until($$SELECT count(*) = 3 FROM mq.half_messages
                            WHERE key IN ('paid', 'void', 'fail')
                              AND (state <> 'prepared' OR checks > 0)$$);
SELECT key, state, checks, last_check, resolved_by
  FROM mq.half_messages WHERE key IS NOT NULL AND key <> 'p1' ORDER BY key;
SELECT key FROM mq.fetch('h.ledger');
SELECT mq.advance_clock('1 min') IS NOT NULL AS advanced;
SELECT pg_temp.wait_until($$SELECT checks = 1 FROM mq.half_messages WHERE key = 'maybe'$$);
SELECT key, state, checks, last_check FROM mq.half_messages WHERE key IN ('fail', 'maybe') ORDER BY key;

-- Without a function, check-backs are NOTIFYs on the producer group's
-- channel, with the handle as payload.
SELECT mq.unregister_checker('pay.service');
SELECT mq.unregister_checker('pay.service');
SELECT mq.advance_clock('30 s') IS NOT NULL AS advanced;
SELECT pg_temp.wait_until($$SELECT last_check = 'notified' FROM mq.half_messages WHERE key = 'maybe'$$);
SELECT mq.rollback_prepared(:'fail'), mq.rollback_prepared(:'maybe');

-- The checkback job reports its runs and no errors of its own.
SELECT runs > 0 AS ran, errors FROM mq.worker_jobs()
 WHERE database = current_database() AND job = 'checkback';

-- A checker belongs to the role that registered it: another role can
-- neither replace nor remove it.  Callers need no privilege on mq's tables.
SELECT mq.register_checker('pay.service', 'public.h_checker(mq.half_messages)');
CREATE ROLE h_other;
GRANT USAGE ON SCHEMA mq TO h_other;
GRANT EXECUTE ON FUNCTION mq.register_checker(text, regprocedure),
                          mq.unregister_checker(text) TO h_other;
SET ROLE h_other;
SELECT mq.register_checker('pay.service', 'public.h_checker(mq.half_messages)');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.unregister_checker('pay.service');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.register_checker('other.service', 'public.h_checker(mq.half_messages)');
SELECT * FROM mq.checker;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT producer_group, checker, owner = 'h_other' AS by_other FROM mq.checker ORDER BY 1;
SELECT mq.unregister_checker('other.service'), mq.unregister_checker('pay.service');
DROP OWNED BY h_other;
DROP ROLE h_other;

-- Errors.
SELECT mq.prepare('h.payments', 'x'::text, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.prepare('h.payments', 'x'::text, repeat('g', 55));
\echo :LAST_ERROR_SQLSTATE
SELECT mq.prepare('h.payments', 'x'::text, 'bad group');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.prepare('h.payments', NULL::text, 'g');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.prepare('h.payments', 'x'::text, 'g', check_after => '-1 s');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.prepare('h.payments', 'x'::text, 'g', check_after => '100000000 days');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.prepare('h.payments', 'x'::text, 'g', partition => 1);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.prepare('h.nowhere', 'x'::text, 'g');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.commit_prepared('00000000-0000-0000-0000-000000000000');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.commit_prepared(NULL);
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION public.h_wrong(t text) RETURNS text LANGUAGE sql AS $$ SELECT 'commit' $$;
SELECT mq.register_checker('pay.service', 'public.h_wrong(text)');
\echo :LAST_ERROR_SQLSTATE
SELECT mq.register_checker('pay.service', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT mq.register_checker('pay.service', 'public.nope(text)');
\echo :LAST_ERROR_SQLSTATE
BEGIN READ ONLY;
SELECT mq.prepare('h.payments', 'x'::text, 'g');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
