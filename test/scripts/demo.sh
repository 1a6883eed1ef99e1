#!/usr/bin/env bash
#
# make demo: build and install mq, start a throwaway PostgreSQL on a
# loopback port with mq preloaded, show the extension at work (its worker,
# and an outbox: orders and their messages committed or rolled back
# together), stop the server.  Works as root on a fresh Debian bookworm machine (dependencies
# are installed with apt) or as a user who already has them.
set -euo pipefail
. "$(dirname "$0")/common.sh"

work=""
server_started=0
cleanup()
{
	local rc=$?
	if [ $server_started -eq 1 ]; then
		stop_server "$work" 2>/dev/null || true
	fi
	if [ $rc -ne 0 ]; then
		echo "FAILED: the demo stopped at: ${failed_command:-?}" >&2
		[ -n "$work" ] && [ -f "$work/server.log" ] &&
			{ echo "--- server log (last 30 lines)" >&2; tail -n 30 "$work/server.log" >&2; }
	fi
	[ -n "$work" ] && rm -rf "$work"
	exit $rc
}
trap 'failed_command=$BASH_COMMAND' ERR
trap cleanup EXIT

step "checking dependencies"
ensure_deps

step "building and installing mq"
build_and_install
echo "installed into $($PGC --pkglibdir)"

step "starting a throwaway PostgreSQL $PG_MAJOR with shared_preload_libraries = 'mq'"
work=$(pg_workdir)
start_server "$work"
server_started=1
echo "server on 127.0.0.1:$port, data in $work/data"

psql_demo() { as_pg psql -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }

step "creating database mqdemo and the extension"
psql_demo -d postgres -qc "CREATE DATABASE mqdemo"
psql_demo -d mqdemo -c "CREATE EXTENSION mq"

step "waiting for the mq worker of mqdemo"
psql_demo -d mqdemo -qAt <<'SQL'
DO $$
BEGIN
    FOR i IN 1..300 LOOP
        EXIT WHEN EXISTS (SELECT FROM mq.worker_status()
                           WHERE database = current_database()
                             AND state = 'running');
        PERFORM pg_sleep(0.1);
    END LOOP;
    IF NOT EXISTS (SELECT FROM mq.worker_status()
                    WHERE database = current_database() AND state = 'running')
    THEN
        RAISE EXCEPTION 'the mq worker of % did not start', current_database();
    END IF;
END $$;
SQL

step "mq.worker_status(): the launcher, and the worker of mqdemo"
psql_demo -d mqdemo -c "SELECT role, database, pid, state, last_activity FROM mq.worker_status() ORDER BY role"

step "the same processes in pg_stat_activity"
psql_demo -d mqdemo -c "SELECT pid, backend_type, application_name, datname FROM pg_stat_activity WHERE backend_type LIKE 'mq%' ORDER BY backend_type"

step "an outbox without a relay: a topic, and an orders table"
psql_demo -d mqdemo -q <<'SQL'
SELECT mq.create_topic('order.created', partitions => 3);
CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, amount numeric NOT NULL);
SQL
psql_demo -d mqdemo -c "SELECT name, partitions, retention FROM mq.topics"

step "order 1: the INSERT and mq.send commit together"
psql_demo -d mqdemo <<'SQL'
BEGIN;
INSERT INTO orders VALUES (1, 'alice', 42.00);
SELECT id, partition FROM mq.send('order.created',
    '{"order": 1, "customer": "alice", "amount": 42.00}'::jsonb, key => 'alice');
COMMIT;
SQL

step "order 2: the transaction rolls back, so neither the row nor the message exists"
psql_demo -d mqdemo <<'SQL'
BEGIN;
INSERT INTO orders VALUES (2, 'bob', 7.50);
SELECT id, partition FROM mq.send('order.created',
    '{"order": 2, "customer": "bob", "amount": 7.50}'::jsonb, key => 'bob');
ROLLBACK;
SQL

step "order 3, sent twice with the same dedup_id: stored once"
psql_demo -d mqdemo <<'SQL'
BEGIN;
INSERT INTO orders VALUES (3, 'carol', 12.00);
SELECT partition, duplicate FROM mq.send('order.created',
    '{"order": 3, "customer": "carol", "amount": 12.00}'::jsonb, key => 'carol', dedup_id => 'order-3');
SELECT partition, duplicate FROM mq.send('order.created',
    '{"order": 3, "customer": "carol", "amount": 12.00}'::jsonb, key => 'carol', dedup_id => 'order-3');
COMMIT;
SQL

step "what a consumer reads: committed messages only, per partition, in offset order"
psql_demo -d mqdemo -c "SELECT p AS partition, r.\"offset\", r.key, mq.payload_jsonb(r.payload, r.payload_type) AS payload FROM generate_series(0, 2) p, LATERAL mq.read('order.created', p) r ORDER BY p, r.\"offset\""
psql_demo -d mqdemo -c "SELECT id, customer FROM orders ORDER BY id"
psql_demo -d mqdemo -c "SELECT partition, end_offset, stable_offset, inflight FROM mq.partitions ORDER BY partition"

step "consumer group 'cart' subscribes from the earliest offset; carts to clear"
psql_demo -d mqdemo <<'SQL'
CREATE TABLE carts (customer text PRIMARY KEY, items integer NOT NULL);
INSERT INTO carts VALUES ('alice', 3), ('bob', 1), ('carol', 2);
SELECT mq.subscribe('cart', 'order.created', start => 'earliest');
SQL

step "a consumer clears the carts, then fails and rolls back: nothing is lost"
psql_demo -d mqdemo <<'SQL'
BEGIN;
WITH m AS (SELECT partition, "offset", key FROM mq.fetch('cart', 'order.created'))
UPDATE carts SET items = 0 FROM m WHERE carts.customer = m.key
RETURNING m.partition, m."offset", carts.customer;
ROLLBACK;
SQL
psql_demo -d mqdemo -c "SELECT * FROM carts ORDER BY customer"

step "it tries again: the same messages come back; effects and position commit together (exactly once)"
psql_demo -d mqdemo <<'SQL'
BEGIN;
WITH m AS (SELECT partition, "offset", key FROM mq.fetch('cart', 'order.created'))
UPDATE carts SET items = 0 FROM m WHERE carts.customer = m.key
RETURNING m.partition, m."offset", carts.customer;
SELECT mq.commit('cart') AS positions_committed;
COMMIT;
SQL
psql_demo -d mqdemo -c "SELECT * FROM carts ORDER BY customer"
psql_demo -d mqdemo -c "SELECT count(*) AS fetched_again FROM mq.fetch('cart')"
psql_demo -d mqdemo -c "SELECT \"group\", partition, committed_offset, stable_offset, lag FROM mq.lag ORDER BY partition"

step "shared memory directories"
psql_demo -d mqdemo -c "SELECT * FROM mq.shmem_usage()"

step "stopping the server"
stop_server "$work"
server_started=0
echo "demo finished"
