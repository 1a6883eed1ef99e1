#!/usr/bin/env bash
#
# test/bench/run.sh [SECONDS] [ROUNDS] [CLIENTS] [PROTOCOL]
#
# Producer benchmarks for mq, each against a baseline measured in the same
# run: one business INSERT with mq.send, versus the same INSERT alone and
# versus a plain outbox-table INSERT; and mq.send_batch of 100 messages,
# with keys (spread over the 16 partitions) and without (one partition per
# transaction), versus a 100-row INSERT ... SELECT into the outbox table
# (bigint identity key, topic, key, payload jsonb, created_at).  Payloads
# are the same ~200-byte JSON document.  The scenarios run
# interleaved, ROUNDS times each, with synchronous_commit on (every commit
# waits for its WAL flush, the usual setting) and off (no flush wait, so
# CPU costs show).  Prints a Markdown report: median transactions per
# second, the ratio of each scenario to its baseline, and WAL bytes per
# message, and the bytes per message the topic and the outbox table take
# on disk at the end.  PROTOCOL is pgbench's query mode: simple (default: every
# statement parsed and planned each time) or prepared.  Builds and installs
# mq, and runs its own throwaway server on a loopback port.
#
# The same results go to $OUT/$CSV_NAME.csv (default ./run.csv): a row per
# synchronous_commit and scenario, repeated for each baseline the scenario
# is compared with (baseline, tps_ratio: median of per-round ratios,
# wal_ratio: of the median WAL bytes per message); and the storage to
# $OUT/${CSV_NAME}_storage.csv.
set -euo pipefail
. "$(dirname "$0")/../scripts/common.sh"
bench=$(cd "$(dirname "$0")" && pwd)

seconds=${1:-10}
rounds=${2:-3}
clients=${3:-4}
protocol=${4:-simple}

ensure_deps
build_and_install >/dev/null

start_bench_server "$bench"/*.sql

sql() { as_pg psql -X -q -At -h "$work" -p "$port" -U postgres -d postgres "$@"; }
sql -f "$work/setup.sql" >/dev/null

scenarios="business_only business_outbox business_send outbox_batch send_batch send_batch_nokey"
declare -A per_txn=([business_only]=1 [business_outbox]=1 [business_send]=1 [outbox_batch]=100 [send_batch]=100 [send_batch_nokey]=100)

results="$work/results.txt"
: >"$results"
for sync in on off; do
	sql -c "ALTER SYSTEM SET synchronous_commit = $sync" -c "SELECT pg_reload_conf()" >/dev/null
	for round in $(seq "$rounds"); do
		for s in $scenarios; do
			lsn0=$(sql -c "SELECT pg_current_wal_insert_lsn()")
			out=$(as_pg "$PG_BINDIR/pgbench" -n -h "$work" -p "$port" -U postgres \
				-M "$protocol" -c "$clients" -j "$clients" -T "$seconds" \
				-f "$work/$s.sql" postgres 2>&1)
			lsn1=$(sql -c "SELECT pg_current_wal_insert_lsn()")
			tps=$(echo "$out" | awk '/^tps = / { print $3; exit }')
			txns=$(echo "$out" | awk '/number of transactions actually processed/ { print $NF; exit }')
			[ -n "$tps" ] || { echo "pgbench failed for $s:"; echo "$out"; exit 1; }
			wal=$(sql -c "SELECT pg_wal_lsn_diff('$lsn1', '$lsn0')")
			echo "$sync $round $s $tps $txns $wal" >>"$results"
			echo "sync=$sync round=$round $s: $tps tps" >&2
		done
	done
done

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# median_tps SYNC SCENARIO, walmsg SYNC SCENARIO: medians over the rounds
median_tps() { awk -v y="$1" -v s="$2" '$1 == y && $3 == s { print $4 }' "$results" | median; }
walmsg() { awk -v y="$1" -v s="$2" -v k="${per_txn[$2]}" '$1 == y && $3 == s { print $6 / ($5 * k) }' "$results" | median; }

echo "| synchronous_commit | scenario | median tps | messages/s | WAL bytes/message |"
echo "|---|---|---|---|---|"
for sync in on off; do
	for s in $scenarios; do
		tps=$(median_tps "$sync" "$s")
		printf '| %s | %s | %.0f | %.0f | %.0f |\n' "$sync" "$s" "$tps" "$(echo "$tps * ${per_txn[$s]}" | bc -l)" "$(walmsg "$sync" "$s")"
	done
done

echo
echo "| synchronous_commit | ratio (median of per-round ratios) | value |"
echo "|---|---|---|"
ratio() {
	local sync=$1 a=$2 b=$3
	for round in $(seq "$rounds"); do
		x=$(awk -v y="$sync" -v r="$round" -v s="$a" '$1 == y && $2 == r && $3 == s { print $4 }' "$results")
		z=$(awk -v y="$sync" -v r="$round" -v s="$b" '$1 == y && $2 == r && $3 == s { print $4 }' "$results")
		echo "$x / $z" | bc -l
	done | median
}
for sync in on off; do
	printf '| %s | business_send / business_outbox | %.3f |\n' "$sync" "$(ratio "$sync" business_send business_outbox)"
	printf '| %s | business_send / business_only | %.3f |\n' "$sync" "$(ratio "$sync" business_send business_only)"
	printf '| %s | send_batch / outbox_batch | %.3f |\n' "$sync" "$(ratio "$sync" send_batch outbox_batch)"
	printf '| %s | send_batch_nokey / outbox_batch | %.3f |\n' "$sync" "$(ratio "$sync" send_batch_nokey outbox_batch)"
	for s in business_send send_batch send_batch_nokey; do
		base=business_outbox
		[ "$s" = business_send ] || base=outbox_batch
		printf '| %s | WAL per message, %s / %s | %.3f |\n' "$sync" "$s" "$base" "$(echo "$(walmsg "$sync" "$s") / $(walmsg "$sync" "$base")" | bc -l)"
	done
done

# What everything sent takes on disk, per message: the topic's segments
# (with their indexes and TOAST) against the outbox table's.
sql -c "CHECKPOINT" >/dev/null
read -r topic_bytes topic_msgs outbox_bytes outbox_msgs < <(sql -F ' ' -c "
SELECT (SELECT sum(pg_total_relation_size(s.relid)) FROM mq.segment s JOIN mq.topic t USING (topic_id) WHERE t.name = 'bench'),
       (SELECT sum(end_offset - log_start_offset) FROM mq.partitions WHERE topic = 'bench'),
       pg_total_relation_size('outbox'), (SELECT count(*) FROM outbox)")
echo
echo "| storage | messages | bytes/message |"
echo "|---|---|---|"
printf '| topic (segments) | %s | %.0f |\n' "$topic_msgs" "$(echo "$topic_bytes / $topic_msgs" | bc -l)"
printf '| outbox table | %s | %.0f |\n' "$outbox_msgs" "$(echo "$outbox_bytes / $outbox_msgs" | bc -l)"
printf '| ratio topic / outbox | | %.3f |\n' "$(echo "($topic_bytes / $topic_msgs) / ($outbox_bytes / $outbox_msgs)" | bc -l)"
echo
echo "$seconds s per run, $rounds rounds, $clients clients, $protocol protocol, $(nproc) cores; PostgreSQL $($PG_BINDIR/postgres --version | awk '{ print $3 }')."

csv_file "${CSV_NAME:-run}"
{
	echo "synchronous_commit,scenario,baseline,median_tps,messages_per_s,wal_bytes_per_message,tps_ratio,wal_ratio"
	for sync in on off; do
		for s in $scenarios; do
			case $s in
				business_send) bases="business_outbox business_only" ;;
				send_batch*) bases=outbox_batch ;;
				*) bases=- ;;
			esac
			tps=$(median_tps "$sync" "$s")
			row=$(printf '%.0f,%.0f,%.0f' "$tps" "$(echo "$tps * ${per_txn[$s]}" | bc -l)" "$(walmsg "$sync" "$s")")
			for b in $bases; do
				if [ "$b" = - ]; then
					echo "$sync,$s,,$row,,"
				else
					printf '%s,%s,%s,%s,%.3f,%.3f\n' "$sync" "$s" "$b" "$row" "$(ratio "$sync" "$s" "$b")" \
						"$(echo "$(walmsg "$sync" "$s") / $(walmsg "$sync" "$b")" | bc -l)"
				fi
			done
		done
	done
} >>"$csv"
csv_file "${CSV_NAME:-run}_storage"
{
	echo "storage,baseline,messages,bytes_per_message,ratio"
	printf 'topic,outbox,%s,%.0f,%.3f\n' "$topic_msgs" "$(echo "$topic_bytes / $topic_msgs" | bc -l)" \
		"$(echo "($topic_bytes / $topic_msgs) / ($outbox_bytes / $outbox_msgs)" | bc -l)"
	printf 'outbox,,%s,%.0f,\n' "$outbox_msgs" "$(echo "$outbox_bytes / $outbox_msgs" | bc -l)"
} >>"$csv"
