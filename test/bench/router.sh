#!/usr/bin/env bash
#
# test/bench/router.sh [SECONDS] [ROUNDS] [CLIENTS]
#
# The router of a cluster of mq nodes (router/mq_router.sql,
# docs/scale-out.md) against sending to a node directly, and over 1, 2 and 3
# nodes.  Starts three mq nodes and a router, each a throwaway server of its
# own on a loopback port, all on this machine.  The router server holds
# three routers, databases router1, router2 and router3, whose PL/Proxy
# clusters are the first 1, 2 and 3 nodes; router N's nodes are database
# clusterN of each of those nodes, so that each router has a topic "bench"
# of its own: 12 partitions, 12 / N on each node.  The direct baseline
# sends to database cluster1 of node 0, the same topic and partitions that
# router1 sends to.  pgbench (CLIENTS clients, default 4, over TCP) runs
# for SECONDS (default 10) each of these, interleaved, ROUNDS times
# (default 3):
#
#   send    one keyed send of a 213-byte JSON text per transaction
#           (autocommit): mq.send on node 0 (router_send_direct.sql), then
#           mq_router.send through router1, router2, router3
#           (router_send.sql)
#   batch   100 keyed messages per transaction: mq.send_batch on node 0
#           (router_batch_direct.sql), then mq_router.send_batch through
#           router1, router2, router3 (router_batch.sql)
#
# with synchronous_commit on and then off on the nodes (SYNC, default
# "on off").  Prints a Markdown table of median transactions/s and
# messages/s, with ratios, medians of per-round ratios: router over 1 node
# / direct (the router's overhead), and N nodes / 1 node.  The same goes to
# $OUT/$CSV_NAME.csv (default ./router.csv), a row per synchronous_commit,
# operation and path.  Builds and installs mq; PL/Proxy must be installed
# in the same PostgreSQL (Debian's postgresql-15-plproxy, which ensure_deps
# installs for the system's).
set -euo pipefail
. "$(dirname "$0")/../scripts/common.sh"
bench=$(cd "$(dirname "$0")" && pwd)

seconds=${1:-10}
rounds=${2:-3}
clients=${3:-4}
sync_modes=${SYNC:-on off}
partitions=12	# shared evenly by 1, 2 or 3 nodes

ensure_deps
build_and_install >/dev/null
[ -f "$($PGC --sharedir)/extension/plproxy.control" ] ||
	die "PL/Proxy is not installed in $($PGC --sharedir) (Debian: postgresql-$PG_MAJOR-plproxy)"

# The servers: nodes 0, 1, 2 (mq preloaded) and the router (without mq),
# with the settings all benchmarks share, stopped and removed on exit.
conf="max_wal_size = '8GB'
checkpoint_timeout = '30min'
shared_buffers = '512MB'"
dirs=()
ports=()
cleanup()
{
	local d
	for d in "${dirs[@]}"; do
		stop_server "$d" 2>/dev/null || true
		rm -rf "$d"
	done
}
trap cleanup EXIT
for i in 0 1 2 router; do
	d=$(pg_workdir)
	dirs+=("$d")
	if [ "$i" = router ]; then
		start_server "$d" "$conf
shared_preload_libraries = ''"
	else
		start_server "$d" "$conf"
	fi
	ports+=("$port")
done
work=${dirs[3]}
rport=${ports[3]}
cp "$bench"/router_*.sql "$work/"
chmod 644 "$work"/*.sql

sql() { as_pg psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres "$@"; }
on_node() { local n=$1; shift; sql -p "${ports[$n]}" "$@"; }

for n in 1 2 3; do
	# router n: database clustern on each of the first n nodes
	for ((i = 0; i < n; i++)); do
		on_node "$i" -d postgres -c "CREATE DATABASE cluster$n" >/dev/null
		on_node "$i" -d "cluster$n" -c "CREATE EXTENSION mq" >/dev/null
	done
	# PL/Proxy 2.10 wants a power of 2 of connection strings: pad with node 0
	slots=1
	while [ "$slots" -lt "$n" ]; do slots=$((slots * 2)); done
	opts=""
	for ((i = 0; i < slots; i++)); do
		opts="$opts${opts:+, }p$i 'host=127.0.0.1 port=${ports[$((i < n ? i : 0))]} dbname=cluster$n'"
	done
	sql -p "$rport" -d postgres -c "CREATE DATABASE router$n" >/dev/null
	sql -p "$rport" -d "router$n" -c "CREATE EXTENSION plproxy" \
		-c "CREATE SERVER mq_cluster FOREIGN DATA WRAPPER plproxy OPTIONS ($opts)" \
		-c "CREATE USER MAPPING FOR PUBLIC SERVER mq_cluster" >/dev/null
	sql -p "$rport" -d "router$n" <"$TOP/router/mq_router.sql" >/dev/null
	sql -p "$rport" -d "router$n" -c "CALL mq_router.create_topic('bench', $partitions)" >/dev/null
	[ "$(sql -p "$rport" -d "router$n" -c "SELECT nodes FROM mq_router.topics() WHERE name = 'bench'")" = "$n" ] ||
		die "router$n did not place topic bench on $n nodes"
done

# run SYNC ROUND OP TARGET: one pgbench run of OP (send or batch) to TARGET
# (direct, or the number of nodes of the router), appended to $results
results="$work/results.txt"
: >"$results"
run()
{
	local sync=$1 round=$2 op=$3 target=$4 p db script out tps
	if [ "$target" = direct ]; then
		p=${ports[0]} db=cluster1 script=router_${op}_direct.sql
	else
		p=$rport db=router$target script=router_$op.sql
	fi
	out=$(as_pg "$PG_BINDIR/pgbench" -n -h 127.0.0.1 -p "$p" -U postgres -M simple \
		-c "$clients" -j "$clients" -T "$seconds" -f "$work/$script" "$db" 2>&1) ||
		{ echo "$out"; die "pgbench failed for $op $target"; }
	tps=$(echo "$out" | awk '/^tps = / { print $3; exit }')
	[ -n "$tps" ] || { echo "$out"; die "pgbench reported no tps for $op $target"; }
	echo "$sync $round $op $target $tps" >>"$results"
	echo "sync=$sync round=$round $op $target: $tps tps" >&2
}

start=$SECONDS
for sync in $sync_modes; do
	for n in 0 1 2; do
		on_node "$n" -d postgres -c "ALTER SYSTEM SET synchronous_commit = $sync" \
			-c "SELECT pg_reload_conf()" >/dev/null
	done
	for round in $(seq "$rounds"); do
		for op in send batch; do
			for target in direct 1 2 3; do
				run "$sync" "$round" "$op" "$target"
			done
		done
	done
done
elapsed=$((SECONDS - start))

declare -A per_txn=([send]=1 [batch]=100)
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# median_tps SYNC OP TARGET
median_tps() { awk -v y="$1" -v o="$2" -v t="$3" '$1 == y && $3 == o && $4 == t { print $5 }' "$results" | median; }
# ratio SYNC OP TARGET BASE: the median over the rounds of TARGET's tps
# over BASE's in the same round
ratio()
{
	awk -v y="$1" -v o="$2" -v t="$3" -v b="$4" '$1 == y && $3 == o && $4 == t { x[$2] = $5 }
		$1 == y && $3 == o && $4 == b { z[$2] = $5 }
		END { for (r in x) print x[r] / z[r] }' "$results" | median
}
# the baseline each target is compared with, and how the table names both
baseline() { case $1 in direct) echo - ;; 1) echo direct ;; *) echo 1 ;; esac; }
label() { case $1 in -) echo "" ;; direct) echo "direct" ;; 1) echo "router, 1 node" ;; *) echo "router, $1 nodes" ;; esac; }

csv_file "${CSV_NAME:-router}" "SYNC=\"$sync_modes\" $bench_command"
echo "synchronous_commit,operation,path,nodes,median_tps,messages_per_s,baseline,ratio" >>"$csv"
echo "| synchronous_commit | operation | path | median tps | messages/s | ratio (median of per-round ratios) | against |"
echo "|---|---|---|---|---|---|---|"
for sync in $sync_modes; do
	for op in send batch; do
		for target in direct 1 2 3; do
			tps=$(median_tps "$sync" "$op" "$target")
			msgs=$(awk -v t="$tps" -v k="${per_txn[$op]}" 'BEGIN { printf "%.0f", t * k }')
			base=$(baseline "$target")
			if [ "$base" = - ]; then
				r=""
			else
				r=$(printf '%.3f' "$(ratio "$sync" "$op" "$target" "$base")")
			fi
			case $target in direct) path=direct nodes=1 ;; *) path=router nodes=$target ;; esac
			printf '| %s | %s | %s | %.0f | %s | %s | %s |\n' "$sync" "$op" "$(label "$target")" "$tps" "$msgs" \
				"$r" "$(label "$base")"
			printf '%s,%s,%s,%s,%.0f,%s,%s,%s\n' "$sync" "$op" "$path" "$nodes" "$tps" "$msgs" \
				"$(case $base in -) ;; direct) echo direct ;; *) echo "router 1 node" ;; esac)" "$r" >>"$csv"
		done
	done
done
echo
echo "$seconds s per run, $rounds rounds, $clients clients, $partitions partitions; measuring took ${elapsed} s; 3 nodes and the router on the same $(nproc) cores; PostgreSQL $("$PG_BINDIR/postgres" --version | awk '{ print $3 }')."
