#!/usr/bin/env bash
#
# The examples of examples/, tested against a throwaway PostgreSQL with mq
# preloaded: for Python (psycopg 3, and psycopg2's producer) and for Node.js
# (node-postgres), each in a database of its own set up by
# examples/schema.sql:
#
#   1. a consumer waiting for a NOTIFY charges an order placed meanwhile
#      within seconds, far sooner than its 30 s fallback timeout;
#   2. producers in concurrent processes place orders while the charges
#      table is locked, so that consumer-a blocks inside its round with a
#      fetched batch; it is killed there (SIGKILL) and restarted, beside
#      a second consumer;
#   3. then every order is charged exactly once, with the customer and
#      amount of its event, the group's lag is 0, and nothing was nacked.
#
# Prints "PASS: ..." or "FAIL: ..." per check, ends with "N passed, N
# failed", and exits non-zero on a failure.  Needs mq installed (make
# install, or make test's build); installs the drivers (psycopg from Debian,
# node-postgres with npm ci into examples/node).  As root, the server runs
# as the postgres user; the clients connect over TCP as the postgres user,
# so they run as whoever runs this.
set -euo pipefail
. "$(dirname "$0")/common.sh"

ORDERS_EACH=100         # per producer process; two run at once
PSYCOPG2_ORDERS=20      # placed by psycopg2's producer beside them
# An idle consumer must charge an order this soon after its commit: only a
# NOTIFY can wake it before its 30 s fallback timeout.
NOTIFY_LIMIT_MS=5000
DEADLINE=30             # seconds to wait for anything that should be quick
# Debian's python3-psycopg is for Debian's python3, which another python3
# on the PATH (pyenv, a virtualenv) could hide.
python=/usr/bin/python3

work=""
server_started=0
passed=0
failed=0
cleanup()
{
	local rc=$? f
	# the background processes still running: consumers, producers, psql
	# shellcheck disable=SC2046
	kill $(jobs -p) 2>/dev/null || true
	if [ $server_started -eq 1 ]; then
		stop_server "$work" 2>/dev/null || true
	fi
	if [ $rc -ne 0 ] && [ -n "$work" ]; then
		for f in "$work"/*/*.log "$work"/server.log; do
			[ -f "$f" ] && { echo "--- $f (last 20 lines)"; tail -n 20 "$f"; }
		done >&2
	fi
	[ -n "$work" ] && rm -rf "$work"
	exit $rc
}
trap cleanup EXIT

# check WHAT COMMAND...: PASS if COMMAND succeeds, else FAIL.
check()
{
	local what=$1
	shift
	if "$@"; then
		echo "PASS: $what"
		passed=$((passed + 1))
	else
		echo "FAIL: $what"
		failed=$((failed + 1))
	fi
}

# q DB SQL: the query's result, unaligned.
q() { "$PG_BINDIR/psql" -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$1" -c "$2"; }

# sql_true DB SQL: whether the query returns true.
sql_true() { [ "$(q "$1" "$2")" = t ]; }

# wait_sql DB SQL: wait up to $DEADLINE seconds for the query to return true.
wait_sql()
{
	local until=$((SECONDS + DEADLINE))
	until sql_true "$1" "$2"; do
		[ $SECONDS -lt $until ] || return 1
		sleep 0.1
	done
}

# wait_log FILE PATTERN: wait up to $DEADLINE seconds for a line in FILE.
wait_log()
{
	local until=$((SECONDS + DEADLINE))
	until grep -q "$2" "$1" 2>/dev/null; do
		[ $SECONDS -lt $until ] || return 1
		sleep 0.1
	done
}

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# start_consumer NAME: start a consumer in the background as application
# NAME, logging to $log_dir/NAME.log; its pid goes in $consumer_pid.
start_consumer()
{
	PGAPPNAME=$1 "${consumer[@]}" >>"$log_dir/$1.log" 2>&1 &
	consumer_pid=$!
}

# scenario LANG: the three parts above, in database shop_LANG, with the
# commands in $producer, $consumer and $producer2 (optional: a second
# driver's producer).
scenario()
{
	local lang=$1 db=shop_$1 pids=() pid a a_backend b locker t0 ms expected
	local orders charges
	export PGDATABASE=$db
	log_dir=$work/$lang
	mkdir -p "$log_dir"

	step "$lang: database $db, set up by examples/schema.sql"
	q postgres "CREATE DATABASE $db" >/dev/null
	"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres \
		-d "$db" -f "$TOP/examples/schema.sql" >/dev/null
	# the worker sends the topics' notifications
	wait_sql "$db" "SELECT EXISTS (SELECT FROM mq.worker_status()
	                  WHERE database = current_database() AND state = 'running')" ||
		die "the mq worker of $db did not start"

	step "$lang: an order placed while the consumer waits for a NOTIFY"
	start_consumer consumer-a
	a=$consumer_pid
	wait_log "$log_dir/consumer-a.log" "idle: waiting for a NOTIFY" ||
		die "$lang: consumer-a did not go idle"
	"${producer[@]}" 1
	t0=$(now_ms)
	wait_sql "$db" "SELECT count(*) = 1 FROM charges" || true
	ms=$(($(now_ms) - t0))
	check "$lang: consumer-a logged \"woken by NOTIFY\"" \
		grep -q "woken by NOTIFY" "$log_dir/consumer-a.log"
	check "$lang: the order was charged $ms ms after its commit (limit $NOTIFY_LIMIT_MS ms; fallback timeout 30 s)" \
		[ "$ms" -lt "$NOTIFY_LIMIT_MS" ]

	step "$lang: concurrent producers; consumer-a killed inside its round"
	# Holding a lock on charges stops each round at its first INSERT, with
	# its batch fetched and its partitions claimed, until pg_cancel_backend.
	PGAPPNAME=lock-charges "$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres \
		-c "BEGIN" -c "LOCK TABLE charges IN SHARE MODE" -c "SELECT pg_sleep(600)" \
		>/dev/null 2>&1 &
	locker=$!
	wait_sql "$db" "SELECT EXISTS (SELECT FROM pg_stat_activity
	                  WHERE application_name = 'lock-charges' AND wait_event = 'PgSleep')" ||
		die "$lang: could not lock charges"
	"${producer[@]}" "$ORDERS_EACH" &
	pids+=("$!")
	"${producer[@]}" "$ORDERS_EACH" &
	pids+=("$!")
	expected=$((1 + 2 * ORDERS_EACH))
	if [ ${#producer2[@]} -gt 0 ]; then
		"${producer2[@]}" "$PSYCOPG2_ORDERS" &
		pids+=("$!")
		expected=$((expected + PSYCOPG2_ORDERS))
	fi
	wait_sql "$db" "SELECT EXISTS (SELECT FROM pg_stat_activity
	                  WHERE application_name = 'consumer-a' AND wait_event_type = 'Lock'
	                    AND query LIKE '%INSERT INTO charges%')" ||
		die "$lang: consumer-a did not reach its INSERT"
	start_consumer consumer-b
	b=$consumer_pid
	for pid in "${pids[@]}"; do
		wait "$pid" || die "$lang: a producer failed"
	done
	orders=$(q "$db" "SELECT count(*) FROM orders")
	check "$lang: ${#pids[@]} producer processes placed their orders at once ($orders orders, $expected expected)" \
		[ "$orders" -eq "$expected" ]

	a_backend=$(q "$db" "SELECT pid FROM pg_stat_activity
	                      WHERE application_name = 'consumer-a' AND wait_event_type = 'Lock'")
	kill -KILL "$a"
	wait "$a" 2>/dev/null || true
	echo "consumer-a killed (SIGKILL) with its batch fetched and not committed"
	q "$db" "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
	          WHERE application_name = 'lock-charges'" >/dev/null
	wait "$locker" || true
	# Its server process ends, rolling back, once it finds its client gone.
	wait_sql "$db" "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $a_backend)" ||
		die "$lang: the killed consumer's server process did not end"
	start_consumer consumer-a
	a=$consumer_pid
	echo "consumer-a restarted"
	wait_sql "$db" "SELECT count(*) >= $orders FROM charges" || true

	# The primary key rules out a second charge of an order: as many charges
	# as orders, none missing, is exactly once.
	charges=$(q "$db" "SELECT count(*) FROM charges")
	check "$lang: every order charged exactly once ($orders orders, $charges charges)" \
		sql_true "$db" "SELECT count(*) = $orders
		                  AND NOT EXISTS (SELECT FROM orders o
		                                   WHERE NOT EXISTS (SELECT FROM charges c
		                                                      WHERE c.order_id = o.id))
		                  FROM charges"
	check "$lang: payloads arrived as JSON (every charge has its order's customer and amount)" \
		sql_true "$db" "SELECT count(*) > 0 AND bool_and((c.customer, c.amount_cents)
		                                                  = (o.customer, o.amount_cents))
		                  FROM charges c JOIN orders o ON o.id = c.order_id"
	check "$lang: the group billing's lag is 0" \
		sql_true "$db" "SELECT coalesce(sum(lag), -1) = 0 FROM mq.lag WHERE \"group\" = 'billing'"
	check "$lang: no delivery failed (nothing nacked: no topic billing.retry)" \
		sql_true "$db" "SELECT NOT EXISTS (SELECT FROM mq.topics WHERE name = 'billing.retry')"

	kill "$a" "$b" 2>/dev/null || true
	wait "$a" "$b" 2>/dev/null || true
}

step "dependencies: psycopg from Debian, Node.js, node-postgres with npm ci"
ensure_packages "${example_deps[@]}"
ensure_node
npm ci --prefix "$TOP/examples/node" --no-audit --no-fund --loglevel=error >/dev/null ||
	die "npm ci failed"
printf 'psycopg %s, psycopg2 %s, node %s, pg %s\n' \
	"$("$python" -c 'import psycopg; print(psycopg.__version__)')" \
	"$("$python" -c 'import psycopg2; print(psycopg2.__version__.split()[0])')" \
	"$(node --version)" \
	"$(node -p "require('$TOP/examples/node/node_modules/pg/package.json').version")"
[ -f "$($PGC --pkglibdir)/mq.so" ] ||
	die "mq is not installed in $($PGC --pkglibdir): make install first"

step "starting a throwaway PostgreSQL $PG_MAJOR with mq preloaded"
work=$(pg_workdir)
start_server "$work"
server_started=1
echo "server on 127.0.0.1:$port"
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres

producer=("$python" "$TOP/examples/python/producer.py")
producer2=("$python" "$TOP/examples/python/producer_psycopg2.py")
consumer=("$python" "$TOP/examples/python/consumer.py")
scenario python

producer=(node "$TOP/examples/node/producer.js")
producer2=()
consumer=(node "$TOP/examples/node/consumer.js")
scenario node

step "summary"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
