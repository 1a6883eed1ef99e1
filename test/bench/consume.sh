#!/usr/bin/env bash
#
# test/bench/consume.sh [MESSAGES] [ROUNDS] [SYNC]
#
# Consumer benchmark for mq against a plain SKIP LOCKED queue table,
# measured in the same run.  A 16-partition topic and a plain table
# (bigserial key, topic, key, payload, created_at) are filled with the same
# MESSAGES (default 1000000) ~210-byte messages with keys.  Then, in two
# modes, each consumer (pgbench client) drains everything in batches of
# 100, and every payload goes to the client:
#
#   auto-commit, 1, 4 and 16 consumers, one statement per batch:
#     mq:    mq.fetch(group, max => 100, auto_commit => true)
#     plain: DELETE the first 100 rows locked with FOR UPDATE SKIP LOCKED
#            ... RETURNING payload
#   in a transaction, 4 and 16 consumers:
#     mq:    BEGIN; mq.fetch(group, max => 100); mq.commit(group); COMMIT;
#     plain: BEGIN; the same DELETE ... RETURNING payload; COMMIT;
#
# After each pair, the floor: mq's transaction shape doing no work
# (BEGIN; SELECT 1; UPDATE one small row per client; COMMIT), as many
# transactions as a drain takes, reported as 100 messages per transaction:
# what round trips and commit flushes alone allow.
#
# The mq and plain drains run interleaved, ROUNDS times (default 1); before
# each, the group is moved back to the earliest offset, the plain table is
# refilled, and both are vacuumed.  SYNC is the list of synchronous_commit
# settings to run with (default "on"; e.g. "on off").  Prints a Markdown
# report: messages drained per second (messages / wall time of the pgbench
# runs), the ratio mq / plain, and the size and dead tuples of the
# relations before and after each drain.  Builds and installs mq, and runs
# its own throwaway server on a loopback port.  The first table also goes
# to $OUT/$CSV_NAME.csv (default ./consume.csv).
set -euo pipefail
. "$(dirname "$0")/../scripts/common.sh"
bench=$(cd "$(dirname "$0")" && pwd)

messages=${1:-1000000}
rounds=${2:-1}
syncs=${3:-on}
partitions=16
batch=100
consumer_counts="1 4 16"

ensure_deps
build_and_install >/dev/null

start_bench_server "$bench"/consume_*.sql

sql() { as_pg psql -X -q -At -F ' ' -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d postgres "$@"; }

# A client's last auto-commit batch stays leased after it exits; the next
# pass's clients wait for the lease to expire before they take that
# partition, so leases are kept short here.
sql -c "ALTER SYSTEM SET mq.auto_commit_timeout = '2s'" -c "SELECT pg_reload_conf()" >/dev/null

echo "filling the topic and the table with $messages messages" >&2
sql -v messages="$messages" -v partitions="$partitions" -f "$work/consume_setup.sql" >/dev/null

# remaining SYSTEM: messages not consumed yet.
remaining()
{
	case $1 in
		mq) sql -c "SELECT coalesce(sum(lag), 0) FROM mq.lag WHERE \"group\" = 'drain'" ;;
		# auto-commit: a client's last batch stays leased when it exits
		# (delivered, committed by its next fetch); it is not left to drain
		mq_auto) sql -c "SELECT coalesce(sum(greatest(o.stable_offset
			- greatest(p.next_offset, coalesce(p.lease_to, 0)), 0)), 0)
			FROM mq.position p JOIN mq.consumer_group g USING (group_id)
			JOIN mq.partitions o ON o.topic = 'bench' AND o.partition = p.partition
			WHERE g.name = 'drain'" ;;
		plain*) sql -c "SELECT count(*) FROM queue" ;;
	esac
}

# Wait until the pgbench backends are gone (they flush their statistics
# when they exit), then print consume_stats.sql's lines.
stats()
{
	while [ "$(sql -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")" != 0 ]; do
		sleep 0.2
	done
	sleep 1
	sql -f "$work/consume_stats.sql"
}

# drain SYSTEM CLIENTS: run the consumer script with CLIENTS pgbench
# clients until nothing is left; print "drained seconds transactions
# wal_bytes".
# The clients each run enough transactions to drain the rest if every
# batch were full; batches at the end of a partition or next to locked
# rows can be smaller, so it goes on until the rest is 0.  Seconds is the
# wall time of the pgbench runs only; wal_bytes is the WAL written from
# start to end.
drain()
{
	local system=$1 k=$2 before rest last t total_ns=0 txns=0 passes=0 t0 t1 out n lsn0 lsn1
	before=$(remaining "$system")
	lsn0=$(sql -c "SELECT pg_current_wal_insert_lsn()")
	rest=$before
	while [ "$rest" -gt 0 ]; do
		passes=$((passes + 1))
		[ "$passes" -le 100 ] || die "$system with $k clients: $rest messages left after 100 passes"
		t=$(((rest + batch * k - 1) / (batch * k)))
		# an auto-commit client's first fetch may deliver again a batch an
		# exited client leased (at-least-once); its second one moves on
		[ "$system" != mq_auto ] || [ "$t" -ge 2 ] || t=2
		t0=$(date +%s%N)
		out=$(as_pg "$PG_BINDIR/pgbench" -n -h "$work" -p "$port" -U postgres \
			-M simple -c "$k" -j "$k" -t "$t" -f "$work/consume_$system.sql" postgres 2>&1) ||
			{ echo "$out"; die "pgbench failed for $system with $k clients"; }
		t1=$(date +%s%N)
		total_ns=$((total_ns + t1 - t0))
		n=$(echo "$out" | awk '/number of transactions actually processed/ { split($NF, a, "/"); print a[1]; exit }')
		txns=$((txns + n))
		last=$rest
		rest=$(remaining "$system")
		# partitions leased by clients of an earlier pass wait for the
		# lease to expire (auto-commit); that wait is not counted
		[ "$rest" -lt "$last" ] || sleep 1
	done
	lsn1=$(sql -c "SELECT pg_current_wal_insert_lsn()")
	echo "$((before - rest)) $(echo "$total_ns / 1000000000" | bc -l) $txns $(sql -c "SELECT pg_wal_lsn_diff('$lsn1', '$lsn0')")"
}

# floor CLIENTS: the floor script, as many transactions as a full drain
# with batches of 100 takes; print "messages_if_full seconds transactions".
floor()
{
	local k=$1 t t0 t1 out n
	t=$(((messages + batch * k - 1) / (batch * k)))
	t0=$(date +%s%N)
	out=$(as_pg "$PG_BINDIR/pgbench" -n -h "$work" -p "$port" -U postgres \
		-M simple -c "$k" -j "$k" -t "$t" -f "$work/consume_floor.sql" postgres 2>&1) ||
		{ echo "$out"; die "pgbench failed for floor with $k clients"; }
	t1=$(date +%s%N)
	n=$(echo "$out" | awk '/number of transactions actually processed/ { split($NF, a, "/"); print a[1]; exit }')
	echo "$((n * batch)) $(echo "($t1 - $t0) / 1000000000" | bc -l) $n"
}

results="$work/results.txt"
floors="$work/floors.txt"
: >"$floors"
sizes="$work/sizes.txt"
: >"$results"
: >"$sizes"
for sync in $syncs; do
	sql -c "ALTER SYSTEM SET synchronous_commit = $sync" -c "SELECT pg_reload_conf()" >/dev/null
	for round in $(seq "$rounds"); do
		for k in $consumer_counts; do
			# alternate which one goes first
			if [ $((round % 2)) -eq 1 ]; then order="mq_auto plain_auto"; else order="plain_auto mq_auto"; fi
			[ "$k" -eq 1 ] || order="$order mq plain"
			for system in $order; do
				sql -v messages="$messages" -f "$work/consume_reset.sql" >/dev/null
				stats >"$work/before.txt"
				run=$(drain "$system" "$k")
				read -r drained secs txns wal <<<"$run"
				stats >"$work/after.txt"
				echo "$sync $round $k $system $drained $secs $txns $wal" >>"$results"
				case $system in mq*) rels="mq_log mq_position" ;; *) rels="queue" ;; esac
				for rel in $rels; do
					read -r _ size0 dead0 <<<"$(grep "^$rel " "$work/before.txt")"
					read -r _ size1 dead1 <<<"$(grep "^$rel " "$work/after.txt")"
					echo "$sync $round $k $rel $size0 $size1 $dead0 $dead1" >>"$sizes"
				done
				printf 'sync=%s round=%s %s with %s consumers: %s messages in %.1f s, %s transactions\n' \
					"$sync" "$round" "$system" "$k" "$drained" "$secs" "$txns" >&2
			done
			read -r fmsgs fsecs ftxns <<<"$(floor "$k")"
			echo "$sync $round $k $fmsgs $fsecs $ftxns" >>"$floors"
			printf 'sync=%s round=%s floor with %s clients: %s transactions in %.1f s\n' \
				"$sync" "$round" "$k" "$ftxns" "$fsecs" >&2
		done
	done
done

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rate() { awk -v y="$1" -v r="$2" -v k="$3" -v s="$4" '$1 == y && $2 == r && $3 == k && $4 == s { print $5 / $6 }' "$results"; }

frate() { awk -v y="$1" -v r="$2" -v k="$3" '$1 == y && $2 == r && $3 == k { print $4 / $5 }' "$floors"; }

csv_file "${CSV_NAME:-consume}"
echo "synchronous_commit,mode,consumers,mq_messages_per_s,plain_messages_per_s,mq_per_plain,floor_messages_per_s,plain_per_floor,mq_per_floor" >>"$csv"
echo "| synchronous_commit | mode | consumers | mq messages/s | plain messages/s | mq / plain | floor messages/s | plain / floor | mq / floor |"
echo "|---|---|---|---|---|---|---|---|---|"
for sync in $syncs; do
	for mode in auto txn; do
		if [ "$mode" = auto ]; then m=mq_auto p=plain_auto ks="1 4 16"; else m=mq p=plain ks="4 16"; fi
		for k in $ks; do
			mq=$(for r in $(seq "$rounds"); do rate "$sync" "$r" "$k" "$m"; done | median)
			plain=$(for r in $(seq "$rounds"); do rate "$sync" "$r" "$k" "$p"; done | median)
			ratio=$(for r in $(seq "$rounds"); do
				echo "$(rate "$sync" "$r" "$k" "$m") / $(rate "$sync" "$r" "$k" "$p")" | bc -l
			done | median)
			fl=$(for r in $(seq "$rounds"); do frate "$sync" "$r" "$k"; done | median)
			pfloor=$(for r in $(seq "$rounds"); do
				echo "$(rate "$sync" "$r" "$k" "$p") / $(frate "$sync" "$r" "$k")" | bc -l
			done | median)
			mfloor=$(for r in $(seq "$rounds"); do
				echo "$(rate "$sync" "$r" "$k" "$m") / $(frate "$sync" "$r" "$k")" | bc -l
			done | median)
			printf '| %s | %s | %s | %.0f | %.0f | %.2f | %.0f | %.2f | %.2f |\n' "$sync" "$mode" "$k" "$mq" "$plain" "$ratio" "$fl" "$pfloor" "$mfloor"
			printf '%s,%s,%s,%.0f,%.0f,%.2f,%.0f,%.2f,%.2f\n' "$sync" "$mode" "$k" "$mq" "$plain" "$ratio" "$fl" "$pfloor" "$mfloor" >>"$csv"
		done
	done
done

echo
echo "| synchronous_commit | round | consumers | system | messages | seconds | messages/s | transactions | WAL bytes/message |"
echo "|---|---|---|---|---|---|---|---|---|"
while read -r sync round k system drained secs txns wal; do
	printf '| %s | %s | %s | %s | %s | %.1f | %.0f | %s | %.1f |\n' "$sync" "$round" "$k" "$system" \
		"$drained" "$secs" "$(echo "$drained / $secs" | bc -l)" "$txns" "$(echo "$wal / $drained" | bc -l)"
done <"$results"

echo
echo "| synchronous_commit | round | consumers | relation | size before | size after | n_dead_tup before | n_dead_tup after |"
echo "|---|---|---|---|---|---|---|---|"
mb() { echo "$1" | awk '{ if ($1 >= 1048576) printf "%.1f MB", $1 / 1048576; else printf "%d kB", $1 / 1024 }'; }
declare -A relname=([mq_log]="mq log (segment tables)" [mq_position]="mq.position" [queue]="plain queue")
while read -r sync round k rel size0 size1 dead0 dead1; do
	printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$sync" "$round" "$k" "${relname[$rel]}" \
		"$(mb "$size0")" "$(mb "$size1")" "$dead0" "$dead1"
done <"$sizes"

echo
echo "$messages messages of ~210 bytes with keys, a $partitions-partition topic, batches of $batch, $rounds round(s), mq and plain interleaved, $(nproc) cores; PostgreSQL $($PG_BINDIR/postgres --version | awk '{ print $3 }'); default autovacuum."
