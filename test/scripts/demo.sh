#!/usr/bin/env bash
#
# make demo: build and install mq and mqctl, start a throwaway PostgreSQL
# on a loopback port with mq preloaded, and run an outbox scenario from end
# to end: orders and their messages committed or rolled back together; a
# cart service that clears carts exactly once; order timeouts delayed by
# 3 s that cancel unpaid orders (mqctl consume --exec); a payment published
# through a half message, committed by check-back after its producer
# "crashed"; and mqctl lag at zero.  Stops the server and ends with a
# recap.  Works as root on a fresh Debian bookworm machine (dependencies are
# installed with apt) or as a user who already has them.
#
# MQ_DEMO_PORT: the server's loopback port (default: the first free one
# from 54329).  MQ_DEMO_DIR: a directory to keep the server's data and log
# in after the demo (created if need be; it must not hold a data directory
# yet); by default a temporary one, removed at the end.
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
	[ -n "$work" ] && [ -z "${MQ_DEMO_DIR:-}" ] && rm -rf "$work"
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
if [ -n "${MQ_DEMO_DIR:-}" ]; then
	[ -e "$MQ_DEMO_DIR/data" ] && die "$MQ_DEMO_DIR/data exists already"
	mkdir -p "$MQ_DEMO_DIR"
	work=$(cd "$MQ_DEMO_DIR" && pwd)
	chmod 755 "$work"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$work"
else
	work=$(pg_workdir)
fi
start_server "$work" "" "${MQ_DEMO_PORT:-}"
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
CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, amount numeric NOT NULL,
                     status text NOT NULL DEFAULT 'unpaid');
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
psql_demo -d mqdemo -c "SELECT p AS partition, r.\"offset\", r.key, r.payload_json AS payload FROM generate_series(0, 2) p, LATERAL mq.read('order.created', p) r ORDER BY p, r.\"offset\""
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

mqctl() { as_pg "$PG_BINDIR/mqctl" -d "$conninfo" "$@"; }
conninfo="host=127.0.0.1 port=$port user=postgres dbname=mqdemo"

step "two more topics: order.timeout (delayed messages) and payment.done (half messages)"
mqctl topics create order.timeout
mqctl topics create payment.done
psql_demo -d mqdemo -q <<'SQL'
SELECT mq.subscribe('order-timeouts', 'order.timeout', start => 'earliest');
SELECT mq.subscribe('shipping', 'payment.done', start => 'earliest');
SQL
mqctl topics

step "orders 4 and 5: each INSERT with its order.created message and an order.timeout due in 3 s, in one transaction"
psql_demo -d mqdemo <<'SQL'
BEGIN;
INSERT INTO orders VALUES (4, 'dave', 30.00);
SELECT partition FROM mq.send('order.created',
    '{"order": 4, "customer": "dave", "amount": 30.00}'::jsonb, key => 'dave');
SELECT id AS timeout_id, partition FROM mq.send('order.timeout', '4'::text, key => '4', delay => '3 s');
COMMIT;
BEGIN;
INSERT INTO orders VALUES (5, 'erin', 15.00);
SELECT partition FROM mq.send('order.created',
    '{"order": 5, "customer": "erin", "amount": 15.00}'::jsonb, key => 'erin');
SELECT id AS timeout_id, partition FROM mq.send('order.timeout', '5'::text, key => '5', delay => '3 s');
COMMIT;
SQL
echo "pending delayed messages (mqctl delayed):"
mqctl delayed

step "the payment service registers how to check a payment, prepares a half message for order 4, pays, and crashes"
psql_demo -d mqdemo <<'SQL'
CREATE FUNCTION payment_checker(m mq.half_messages) RETURNS text
LANGUAGE sql SET search_path = public AS $$
    SELECT CASE (SELECT status FROM orders WHERE id = m.key::bigint)
           WHEN 'paid' THEN 'commit' WHEN 'cancelled' THEN 'rollback'
           ELSE 'unknown' END
$$;
SELECT mq.register_checker('payment-service', 'payment_checker(mq.half_messages)');
SELECT mq.prepare('payment.done', '{"order": 4, "amount": 30.00}'::jsonb,
                  'payment-service', key => '4', check_after => '1 s') AS handle;
-- the payment's local transaction commits...
UPDATE orders SET status = 'paid' WHERE id = 4;
-- ...and the process dies before it calls mq.commit_prepared(handle)
SQL
echo "half messages (mqctl half):"
mqctl half

step "check-back: the worker asks payment_checker, which finds order 4 paid, and publishes the payment"
psql_demo -d mqdemo -qAt <<'SQL'
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        EXIT WHEN EXISTS (SELECT FROM mq.half_messages WHERE state = 'committed');
        PERFORM pg_sleep(0.05);
    END LOOP;
END $$;
SQL
psql_demo -d mqdemo -c "SELECT topic, producer_group, state, resolved_by, checks FROM mq.half_messages"
echo "the shipping service reads it (mqctl consume shipping payment.done --json):"
mqctl consume shipping payment.done --json --max-messages 1

step "the timeouts fall due: mqctl consume --exec cancels the orders still unpaid"
cat >"$work/cancel_unpaid.sh" <<EOF
#!/bin/sh
# An order-timeout handler: the order id is the message key.
status=\$(psql -X -qAt -v ON_ERROR_STOP=1 "$conninfo" -c "
    UPDATE orders SET status = 'cancelled' WHERE id = \$MQ_KEY AND status = 'unpaid'
    RETURNING 'cancelled'") || exit 1
if [ -n "\$status" ]; then
    echo "order \$MQ_KEY was unpaid: cancelled"
else
    echo "order \$MQ_KEY is paid: nothing to do"
fi
EOF
chmod 755 "$work/cancel_unpaid.sh"
mqctl consume order-timeouts order.timeout --exec "$work/cancel_unpaid.sh" --max-messages 2
psql_demo -d mqdemo -c "SELECT id, customer, amount, status FROM orders ORDER BY id"

step "the cart service catches up on orders 4 and 5, exactly once again"
psql_demo -d mqdemo <<'SQL'
INSERT INTO carts VALUES ('dave', 4), ('erin', 1);
BEGIN;
WITH m AS (SELECT partition, "offset", key FROM mq.fetch('cart', 'order.created'))
UPDATE carts SET items = 0 FROM m WHERE carts.customer = m.key
RETURNING m.partition, m."offset", carts.customer;
SELECT mq.commit('cart') AS positions_committed;
COMMIT;
SQL

step "the worker's jobs (mq.worker_jobs)"
psql_demo -d mqdemo -c "SELECT job, runs, last_count, errors FROM mq.worker_jobs() WHERE database = current_database() ORDER BY job"

step "mqctl lag: every group has consumed everything"
mqctl lag
psql_demo -d mqdemo -qAt -c "SELECT CASE WHEN sum(lag) = 0 THEN 'lag is zero' ELSE 'lag is ' || sum(lag) END FROM mq.lag" |
	tee "$work/lag.txt"
grep -qx 'lag is zero' "$work/lag.txt"

step "stopping the server"
stop_server "$work"
server_started=0
if [ -n "${MQ_DEMO_DIR:-}" ]; then
	echo "its data directory and log stay in $work"
fi

cat <<'RECAP'

What the demo showed:
  1. The outbox without a relay: an order and its mq.send commit together,
     or roll back together; a resend with the same dedup_id is stored once.
  2. Consumers read committed messages only, per partition, in offset order.
  3. Exactly-once consumption: the cart service's effects and its group
     position commit in one transaction; after a rollback the same
     messages come back, and nothing is applied twice.
  4. Delayed messages: order timeouts fell due after 3 s, and mqctl
     consume --exec cancelled the orders still unpaid.
  5. A half message: prepared, its producer "crashed" after paying, and
     the worker's check-back asked the registered checker and published it.
  6. The launcher and the database's worker, its jobs, and mqctl lag at
     zero: every group consumed everything.
Next: docs/guide.md walks through each of these.
RECAP
echo "demo finished"
