#!/usr/bin/env bash
#
# test/bench/latency.sh [SECONDS] [SYNC]
#
# End-to-end latency of mq in a mixed steady state: 4 producers (pgbench
# clients) each sending single messages, one per transaction, whose payload
# starts with the sender's clock_timestamp() as epoch seconds; 2 consumers
# (pgbench clients) in a loop of
#
#   BEGIN; INSERT INTO latencies SELECT receipt time - payload time
#          FROM mq.poll(group, max => 100, wait => '1 s');
#   mq.commit(group); COMMIT;
#
# mq.poll returns at once when messages are ready and otherwise waits in
# the server for a commit to wake it: there is no sleep loop in the
# consumer.  Runs for SECONDS (default 60) with the producers at 100
# transactions/s in total (pgbench --rate) and then at full speed, for each
# synchronous_commit setting in SYNC (default "on").  Prints a Markdown
# report: messages, p50, p99 and max latency in ms, also written to
# $OUT/$CSV_NAME.csv (default ./latency.csv).  Builds and installs mq, and
# runs its own throwaway server on a loopback port.
set -euo pipefail
. "$(dirname "$0")/../scripts/common.sh"
bench=$(cd "$(dirname "$0")" && pwd)

seconds=${1:-60}
syncs=${2:-on}
# MODE=shared: the consumers receive from a shared subscription (mq.receive
# with wait, mq.ack) instead of polling a clustering group
mode=${MODE:-clustering}
producers=4
consumers=2

ensure_deps
build_and_install >/dev/null

start_bench_server "$bench"/latency_*.sql

sql() { as_pg psql -X -q -At -F ' ' -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d postgres "$@"; }
pgbench() { as_pg "$PG_BINDIR/pgbench" -n -h "$work" -p "$port" -U postgres -M simple "$@" postgres; }
sql -f "$work/latency_setup.sql" >/dev/null
consume="$work/latency_consume.sql"
if [ "$mode" = shared ]; then
	sql -c "SELECT mq.subscribe('slat', 'lat', mode => 'shared', start => 'latest')" >/dev/null
	consume="$work/latency_consume_shared.sql"
fi

results="$work/results.txt"
: >"$results"
for sync in $syncs; do
	sql -c "ALTER SYSTEM SET synchronous_commit = $sync" -c "SELECT pg_reload_conf()" >/dev/null
	for rate in 100 full; do
		sql -c "TRUNCATE latencies" -c "SELECT count(*) FROM mq.seek('lat', 'lat', 'latest')" >/dev/null
		[ "$mode" = shared ] && sql -c "SELECT count(*) FROM mq.seek('slat', 'lat', 'latest')" >/dev/null
		if [ "$rate" = full ]; then rate_opt=""; else rate_opt="--rate=$rate"; fi
		# the consumers start first and stop a few seconds after the producers
		pgbench -c "$consumers" -j "$consumers" -T $((seconds + 3)) \
			-f "$consume" >"$work/consumers.out" 2>&1 &
		cpid=$!
		sleep 1
		out=$(pgbench -c "$producers" -j "$producers" -T "$seconds" $rate_opt \
			-f "$work/latency_produce.sql" 2>&1) ||
			{ echo "$out"; die "producers failed"; }
		wait "$cpid" || { cat "$work/consumers.out"; die "consumers failed"; }
		sent=$(echo "$out" | awk '/number of transactions actually processed/ { split($NF, a, "/"); print a[1]; exit }')
		send_ms=$(echo "$out" | awk '/^latency average/ { print $4; exit }')
		polls=$(awk '/number of transactions actually processed/ { split($NF, a, "/"); print a[1]; exit }' "$work/consumers.out")
		if [ "$mode" = shared ]; then
			lag=$(sql -c "SELECT coalesce(sum(unacked), 0) FROM mq.shared_lag WHERE \"group\" = 'slat'")
		else
			lag=$(sql -c "SELECT coalesce(sum(lag), 0) FROM mq.lag WHERE \"group\" = 'lat'")
		fi
		read -r received p50 p99 max mean <<<"$(sql -f "$work/latency_report.sql")"
		echo "$sync $rate $sent $received $lag $polls $send_ms $p50 $p99 $max $mean" >>"$results"
		echo "sync=$sync rate=$rate: $sent sent, $received received, p50 $p50 ms, p99 $p99 ms, max $max ms" >&2
	done
done

csv_file "${CSV_NAME:-latency}" "MODE=$mode $bench_command"
echo "synchronous_commit,producer_rate,messages_sent,received,left_unconsumed,consumer_transactions,send_latency_mean_ms,p50_ms,p99_ms,max_ms,mean_ms" >>"$csv"
echo "| synchronous_commit | producer rate | messages sent | received | left unconsumed | consumer transactions | send transaction latency (ms, mean) | p50 (ms) | p99 (ms) | max (ms) | mean (ms) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
while read -r sync rate sent received lag polls send_ms p50 p99 max mean; do
	if [ "$rate" = full ]; then rate="full speed"; else rate="$rate tx/s"; fi
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$sync" "$rate" "$sent" \
		"$received" "$lag" "$polls" "$send_ms" "$p50" "$p99" "$max" "$mean"
	echo "$sync,$rate,$sent,$received,$lag,$polls,$send_ms,$p50,$p99,$max,$mean" >>"$csv"
done <"$results"
echo
if [ "$mode" = shared ]; then
	how="mq.receive of a shared subscription, max 100, wait 1 s, in a transaction with mq.ack"
else
	how="mq.poll, max 100, in a transaction with mq.commit"
fi
echo "$seconds s per rate, $producers producers (one mq.send per transaction), $consumers consumers ($how), a 4-partition topic, $(nproc) cores; PostgreSQL $($PG_BINDIR/postgres --version | awk '{ print $3 }')."
