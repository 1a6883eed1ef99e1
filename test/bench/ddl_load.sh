#!/usr/bin/env bash
#
# test/bench/ddl_load.sh [SECONDS] [CLIENTS]
#
# Topic DDL under load: CLIENTS (default 150) pgbench clients for SECONDS
# (default 30), each transaction chosen at random: 49% a producer's send
# (ddl_produce.sql), 49% a consumer's fetch and commit (ddl_consume.sql),
# 2% a create_topic + send + drop_topic (ddl_ddl.sql), each statement in
# its own transaction.  Reports, per kind, the transactions done and the
# p50, p99 and max latency in ms (from pgbench's per-transaction log), and
# what the active sessions were doing (sampled every 100 ms from
# pg_stat_activity): waiting for a lock, an LWLock or I/O, or running.  Builds and installs mq, and runs its own
# throwaway server on a loopback port.  The latencies also go to
# $OUT/$CSV_NAME.csv (default ./ddl_load.csv), the sessions to
# $OUT/${CSV_NAME}_sessions.csv.
set -euo pipefail
. "$(dirname "$0")/../scripts/common.sh"
bench=$(cd "$(dirname "$0")" && pwd)

seconds=${1:-30}
clients=${2:-150}

ensure_deps
build_and_install >/dev/null

work=$(pg_workdir)
cp "$bench"/ddl_*.sql "$work/"
chmod 644 "$work"/*.sql
start_server "$work" "max_connections = $((clients + 20))
shared_buffers = '512MB'
max_wal_size = '8GB'"
trap 'stop_server "$work" 2>/dev/null; rm -rf "$work"' EXIT

sql() { as_pg psql -X -q -At -F ' ' -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d postgres "$@"; }
sql -c "CREATE EXTENSION mq" -f "$work/ddl_setup.sql" >/dev/null

# sample the sessions waiting for a lock
(
	end=$((SECONDS + seconds + 2))
	while [ $SECONDS -lt $end ]; do
		sql -c "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'),
		               count(*) FILTER (WHERE wait_event_type = 'LWLock'),
		               count(*) FILTER (WHERE wait_event_type = 'IO'),
		               count(*) FILTER (WHERE wait_event_type IS NULL)
		          FROM pg_stat_activity WHERE state = 'active' AND backend_type = 'client backend'" 2>/dev/null || true
		sleep 0.1
	done
) >"$work/waiting.txt" &
sampler=$!

as_pg bash -c "cd '$work' && '$PG_BINDIR/pgbench' -n -h '$work' -p $port -U postgres -M simple \
	-c $clients -j 4 -T $seconds --log --log-prefix='$work/tx' \
	-f ddl_produce.sql@49 -f ddl_consume.sql@49 -f ddl_ddl.sql@2 postgres" >"$work/pgbench.out" 2>&1 ||
	{ cat "$work/pgbench.out"; die "pgbench failed"; }
wait "$sampler" || true

csv_file "${CSV_NAME:-ddl_load}"
echo "transaction,count,p50_ms,p99_ms,max_ms" >>"$csv"
echo "### Topic DDL under load: $clients clients, $seconds s"
echo
echo "| transaction | count | p50 ms | p99 ms | max ms |"
echo "|---|---|---|---|---|"
# pgbench log: client_id transaction_no time_us script_no epoch epoch_us
cat "$work"/tx.* | awk '{ print $4, $3 / 1000 }' | sort -k1,1n -k2,2g |
	awk -v csv="$csv" 'BEGIN { name[0] = "send"; name[1] = "fetch + commit"; name[2] = "create + send + drop" }
	function flush() {
		if (n == 0) return
		printf "| %s | %d | %.1f | %.1f | %.1f |\n", name[k], n, v[int(n * 0.5) + 1], v[int(n * 0.99) + 1], v[n]
		printf "%s,%d,%.1f,%.1f,%.1f\n", name[k], n, v[int(n * 0.5) + 1], v[int(n * 0.99) + 1], v[n] >>csv
	}
	$1 != k && n > 0 { flush(); n = 0 }
	{ k = $1; v[++n] = $2 }
	END { flush() }'
echo
csv_file "${CSV_NAME:-ddl_load}_sessions"
echo "lock_mean,lock_max,lwlock_mean,io_mean,running_mean" >>"$csv"
awk -v csv="$csv" '{ if ($1 > maxlock) maxlock = $1; for (i = 1; i <= 4; i++) sum[i] += $i; n++ }
	END { printf "Active sessions, sampled every 100 ms: waiting for a lock %.1f on average, %d at most; for an LWLock %.1f; for I/O %.1f; running %.1f.\n",
		sum[1] / n, maxlock, sum[2] / n, sum[3] / n, sum[4] / n
		printf "%.1f,%d,%.1f,%.1f,%.1f\n", sum[1] / n, maxlock, sum[2] / n, sum[3] / n, sum[4] / n >>csv }' "$work/waiting.txt"
