#!/usr/bin/env bash
#
# test/bench/queue.sh [MESSAGES] [CONSUMERS...]
#
# The work queue: MESSAGES (default 100000) jsonb messages of about 100
# bytes, received and acknowledged by CONSUMERS (default "4 16") pgbench
# clients, each transaction taking up to 10 messages and settling them:
#
#   mq      mq.ack(ARRAY(SELECT receipt FROM mq.receive(group, 10, '30 s')))
#           on a shared subscription of a 4-partition topic (queue_mq.sql)
#   pgmq    pgmq.delete(queue, ARRAY(SELECT msg_id FROM pgmq.read(queue, 30, 10)))
#           (queue_pgmq.sql)
#   plain   DELETE ... WHERE id IN (SELECT id ... LIMIT 10 FOR UPDATE SKIP
#           LOCKED) on a table with a bigint primary key (queue_plain.sql)
#
# each queue loaded with the same messages first, the three drained in
# turn in the same run.  Reports messages/s and the ratios, the dead tuples
# left in each one's message storage (and, as "left", what the drain's
# transactions did not take: a receive that found a partition's window
# full returns fewer messages), and the size of mq's ack state before,
# right after (3 s) and once autovacuum has visited mq.share_ack.  Each
# consumer count runs once per value of synchronous_commit in SYNC (default
# "on off"): with "on" every transaction also waits for its WAL flush;
# with "off" only the work per message counts.  The same clients
# committing a one-row INSERT per transaction for 10 s give the rate of
# commits alone ("commit ceiling", as messages/s at 10 per transaction).
# The results also go to $OUT/$CSV_NAME.csv (default ./queue.csv), a row
# per synchronous_commit, consumer count and system, with mq_ratio: mq's
# messages/s over that system's.
#
# pgmq is not vendored: its SQL-only install script (pgmq.sql, release
# 1.5.1) is taken from PGMQ_SQL if set, else downloaded from GitHub; without
# it the pgmq column is left out.  Builds and installs mq, and runs its own
# throwaway server on a loopback port.
set -euo pipefail
. "$(dirname "$0")/../scripts/common.sh"
bench=$(cd "$(dirname "$0")" && pwd)

messages=${1:-100000}
shift || true
consumers=${*:-4 16}
sync_modes=${SYNC:-on off}

ensure_deps
build_and_install >/dev/null
start_bench_server "$bench"/queue_*.sql

pgmq_sql=${PGMQ_SQL:-}
if [ -z "$pgmq_sql" ]; then
	pgmq_sql="$work/pgmq.sql"
	curl -fsSL -o "$pgmq_sql" \
		https://raw.githubusercontent.com/pgmq/pgmq/v1.5.1/pgmq-extension/sql/pgmq.sql 2>/dev/null ||
		pgmq_sql=""
fi
if [ -n "$pgmq_sql" ]; then
	cp "$pgmq_sql" "$work/pgmq.sql"
	chmod 644 "$work/pgmq.sql"
fi

sql() { as_pg psql -X -q -At -F ' ' -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d postgres "$@"; }
pgbench() { as_pg "$PG_BINDIR/pgbench" -n -h "$work" -p "$port" -U postgres -M simple "$@" postgres; }

sql -c "CREATE EXTENSION mq" >/dev/null
systems="mq plain"
if [ -f "$work/pgmq.sql" ]; then
	sql -f "$work/pgmq.sql" >/dev/null
	systems="mq pgmq plain"
fi

payload="jsonb_build_object('order', g, 'customer', 'c' || (g % 1000), 'note', repeat('x', 60))"
load()
{
	case $1 in
		mq)
			sql -c "SELECT mq.drop_group('workers', if_exists => true)" \
				-c "SELECT mq.drop_topic('jobs', if_exists => true)" \
				-c "SELECT mq.create_topic('jobs', partitions => 4)" \
				-c "SELECT mq.subscribe('workers', 'jobs', mode => 'shared', start => 'earliest')" >/dev/null
			for ((i = 0; i < messages; i += 10000)); do
				sql -c "SELECT count(*) FROM mq.send_batch('jobs', ARRAY(SELECT $payload FROM generate_series($i, $((i + 9999 < messages - 1 ? i + 9999 : messages - 1))) g))" >/dev/null
			done ;;
		pgmq)
			sql -c "SELECT pgmq.drop_queue('jobs')" >/dev/null 2>&1 || true
			sql -c "SELECT pgmq.create('jobs')" >/dev/null
			for ((i = 0; i < messages; i += 10000)); do
				sql -c "SELECT count(*) FROM pgmq.send_batch('jobs', ARRAY(SELECT $payload FROM generate_series($i, $((i + 9999 < messages - 1 ? i + 9999 : messages - 1))) g))" >/dev/null
			done ;;
		plain)
			sql -c "DROP TABLE IF EXISTS plain_jobs" \
				-c "CREATE TABLE plain_jobs (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, payload jsonb NOT NULL)" \
				-c "INSERT INTO plain_jobs (payload) SELECT $payload FROM generate_series(0, $((messages - 1))) g" >/dev/null ;;
	esac
	sql -c "CHECKPOINT" -c "VACUUM ANALYZE" >/dev/null
}

left()
{
	case $1 in
		mq) sql -c "SELECT coalesce(sum(unacked), 0) FROM mq.shared_lag WHERE \"group\" = 'workers'" ;;
		pgmq) sql -c "SELECT count(*) FROM pgmq.q_jobs" ;;
		plain) sql -c "SELECT count(*) FROM plain_jobs" ;;
	esac
}

dead()
{
	case $1 in
		mq) sql -c "SELECT coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables WHERE relid IN (SELECT relid FROM mq.segment)" ;;
		pgmq) sql -c "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'q_jobs'" ;;
		plain) sql -c "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'plain_jobs'" ;;
	esac
}

ackstate() { sql -c "SELECT pg_total_relation_size('mq.share_ack') + pg_total_relation_size('mq.position')"; }

# after a drain: wait (up to 90 s) for autovacuum to visit mq.share_ack,
# whose dead rows (acks folded into positions) it reclaims
vacuumed_ackstate()
{
	local before=$1 i
	for ((i = 0; i < 90; i++)); do
		[ "$(sql -c "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relid = 'mq.share_ack'::regclass")" -gt "$before" ] && break
		sleep 1
	done
	ackstate
}

# the commit ceiling: one-row INSERT transactions, as messages/s at 10 each
echo "INSERT INTO ceiling VALUES (1);" >"$work/queue_ceiling.sql"
chmod 644 "$work/queue_ceiling.sql"
ceiling()
{
	sql -c "DROP TABLE IF EXISTS ceiling" -c "CREATE TABLE ceiling (x int)" >/dev/null
	pgbench -c "$1" -j "$(($1 < 4 ? $1 : 4))" -T 10 -f "$work/queue_ceiling.sql" 2>&1 |
		awk '/^tps/ { printf "%.0f", $3 * 10 }'
}

results="$work/results.txt"
: >"$results"
for sync in $sync_modes; do
	sql -c "ALTER SYSTEM SET synchronous_commit = $sync" -c "SELECT pg_reload_conf()" >/dev/null
	for c in $consumers; do
		for s in $systems; do
			load "$s"
			before=$(ackstate)
			vacuums=$(sql -c "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relid = 'mq.share_ack'::regclass")
			per_client=$(( (messages / 10 + c - 1) / c + 2 ))
			start=$(date +%s.%N)
			pgbench -c "$c" -j "$((c < 4 ? c : 4))" -t "$per_client" -f "$work/queue_$s.sql" >"$work/pgbench.out" 2>&1 ||
				{ cat "$work/pgbench.out"; die "$s consumers failed"; }
			end=$(date +%s.%N)
			sleep 3	# the worker folds the acks into the positions
			sql -c "SELECT pg_stat_force_next_flush()" >/dev/null 2>&1 || true
			remaining=$(left "$s")
			rate=$(awk -v n="$messages" -v r="$remaining" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", (n - r) / (b - a) }')
			after=$(ackstate)
			if [ "$s" = mq ]; then vacuumed=$(vacuumed_ackstate "$vacuums"); else vacuumed=-; fi
			echo "$sync $c $s $rate $remaining $(dead "$s") $before $after $vacuumed" >>"$results"
		done
		echo "$sync $c ceiling $(ceiling "$c") - - - - -" >>"$results"
	done
done

echo "### Work queue: $messages messages, received and settled 10 per transaction"
echo
echo "| synchronous_commit | consumers | system | messages/s | left | dead tuples in message storage | ack state before / after / after autovacuum (bytes) |"
echo "|---|---|---|---|---|---|---|"
while read -r sync c s rate remaining deadt before after vacuumed; do
	if [ "$s" = mq ]; then ack="$before / $after / $vacuumed"; else ack="-"; fi
	[ "$s" = ceiling ] && s="commit ceiling"
	echo "| $sync | $c | $s | $rate | $remaining | $deadt | $ack |"
done <"$results"
echo
for sync in $sync_modes; do
	for c in $consumers; do
		awk -v y="$sync" -v c="$c" '$1 == y && $2 == c { r[$3] = $4 }
			END { line = sprintf("synchronous_commit %s, %s consumers: mq / plain %.2f", y, c, r["mq"] / r["plain"]);
				  if ("pgmq" in r) line = line sprintf(", mq / pgmq %.2f", r["mq"] / r["pgmq"]);
				  line = line sprintf(", mq / commit ceiling %.2f", r["mq"] / r["ceiling"]);
				  print line }' "$results"
	done
done
csv_file "${CSV_NAME:-queue}" "SYNC=\"$sync_modes\" $bench_command"
echo "synchronous_commit,consumers,system,messages_per_s,left,dead_tuples,ack_state_before,ack_state_after,ack_state_after_autovacuum,mq_ratio" >>"$csv"
# mq's rate is known once the file has been read: read it twice
awk 'NR == FNR { rate[$1 " " $2 " " $3] = $4; next }
	{
		# the ack state belongs to mq: the table shows it on mq rows only
		for (j = 5; j <= 9; j++) if ($j == "-" || (j >= 7 && $3 != "mq")) $j = ""
		ratio = ($3 != "mq" && $4 > 0) ? sprintf("%.2f", rate[$1 " " $2 " mq"] / $4) : ""
		if ($3 == "ceiling") $3 = "commit ceiling"
		print $1 "," $2 "," $3 "," $4 "," $5 "," $6 "," $7 "," $8 "," $9 "," ratio
	}' "$results" "$results" >>"$csv"
