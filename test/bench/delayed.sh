#!/usr/bin/env bash
#
# test/bench/delayed.sh [MESSAGES] [NOTIFY_ITERATIONS] [PENDING]
#
# The worker's timed work, measured on a throwaway server:
#
# 1. Release lateness: MESSAGES (default 100000) delayed messages to a
#    4-partition topic, due evenly over one minute that starts 30 s after
#    they are sent; one consumer long-polls them (mq.poll, at most 5000 a
#    call) and records when each arrives.  Reports p50, p99 and max of
#    (produced_at - due_at), the release by the worker, and of
#    (received - due_at), what a consumer sees.
# 2. Release throughput: MESSAGES more, all due at the same instant;
#    the time from that instant until the store is empty gives messages/s.
#    Baseline in the same run: the same rows moved with plain SQL from a
#    table of the same shape into a plain one-row-per-message log table
#    (primary key, key and time indexes), in transactions of 10000
#    (DELETE ... RETURNING into INSERT), as the worker does.
# 3. NOTIFY latency: from a producer's statement to the arrival of the
#    notification at a LISTENing libpq client, for mq.send (the worker
#    notifies) and, as the baseline, the producer's own NOTIFY
#    (NOTIFY_ITERATIONS each, default 500).
#
# With PENDING (default 0), that many delayed messages due in 30 days are
# sent to another topic first, and stay pending throughout: the store is
# then that much bigger for every measurement.  The time to send the
# MESSAGES of step 1 is reported too.
#
# Builds and installs mq, and prints a Markdown report; its numbers also go
# to $OUT/$CSV_NAME.csv (default ./delayed.csv), one row.
set -euo pipefail
. "$(dirname "$0")/../scripts/common.sh"
bench=$(cd "$(dirname "$0")" && pwd)

messages=${1:-100000}
iterations=${2:-500}
pending=${3:-0}

ensure_deps
build_and_install >/dev/null

start_bench_server "$bench"/delayed_*.sql
sql() { as_pg psql -X -q -At -F ' ' -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d postgres "$@"; }
sql -f "$work/delayed_setup.sql" >/dev/null

# 0. messages that stay pending throughout, in transactions of 100000
left=$pending
while [ "$left" -gt 0 ]; do
	chunk=$((left < 100000 ? left : 100000))
	sql -c "SELECT count(*) FROM generate_series(1, $chunk) g, LATERAL mq.send('parked', 'p' || g, key => 'k' || g, delay => '30 days')" >/dev/null
	left=$((left - chunk))
done
sql -c "VACUUM ANALYZE mq.delayed_message" >/dev/null

# 1. lateness over one minute
sql -v n="$messages" <<'SQL' >/dev/null
SELECT now() + interval '30 s' AS t0 \gset
SELECT clock_timestamp() AS s0 \gset
SELECT count(*) FROM generate_series(0, :n - 1) g,
    LATERAL mq.send('late', 'm' || g, key => 'k' || (g % 1000),
                    deliver_at => :'t0'::timestamptz + (g * 60.0 / :n) * interval '1 s');
INSERT INTO timings SELECT 'send', extract(epoch FROM clock_timestamp() - :'s0'::timestamptz);
INSERT INTO due SELECT d.id, d.due_at FROM mq.delayed_message d
  JOIN mq.topic t USING (topic_id) WHERE t.name = 'late';
SQL
send_s=$(sql -c "SELECT round(seconds, 2) FROM timings WHERE name = 'send'")
echo "CALL consume_until('late', $messages, interval '3 min')" | sql >/dev/null
read -r rel50 rel99 relmax rec50 rec99 recmax received <<<"$(sql <<'SQL'
SELECT round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.produced_at - d.due_at)) * 1000)::numeric, 1),
       round((percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM r.produced_at - d.due_at)) * 1000)::numeric, 1),
       round((max(extract(epoch FROM r.produced_at - d.due_at)) * 1000)::numeric, 1),
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.received_at - d.due_at)) * 1000)::numeric, 1),
       round((percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM r.received_at - d.due_at)) * 1000)::numeric, 1),
       round((max(extract(epoch FROM r.received_at - d.due_at)) * 1000)::numeric, 1),
       count(*)
  FROM recv r JOIN due d USING (id);
SQL
)"

# 2. release throughput, and the plain-SQL baseline
sql -v n="$messages" <<'SQL' >/dev/null
TRUNCATE due, recv;
SELECT now() + interval '40 s' AS t1 \gset
SELECT count(*) FROM generate_series(0, :n - 1) g,
    LATERAL mq.send('burst', 'm' || g, key => 'k' || (g % 1000), deliver_at => :'t1');
INSERT INTO store SELECT d.* FROM mq.delayed_message d
  JOIN mq.topic t USING (topic_id) WHERE t.name = 'burst';
SQL
t1=$(sql -c "SELECT max(due_at) FROM store")
release_s=$(sql -v t1="$t1" <<'SQL'
SELECT pg_sleep(greatest(extract(epoch FROM :'t1'::timestamptz - clock_timestamp()), 0));
DO $$
BEGIN
    WHILE EXISTS (SELECT 1 FROM mq.delayed_message d JOIN mq.topic t USING (topic_id)
                   WHERE t.name = 'burst') LOOP
        PERFORM pg_sleep(0.005);
    END LOOP;
END
$$;
SELECT round(extract(epoch FROM clock_timestamp() - :'t1'::timestamptz)::numeric, 3);
SQL
)
release_s=$(echo "$release_s" | tail -n 1)
sql -c "CHECKPOINT" >/dev/null
baseline_s=$(sql -c "CALL move_plain()" -c "SELECT seconds FROM baseline" | tail -n 1)
released=$(sql -c "SELECT sum(end_offset) FROM mq.partitions WHERE topic = 'burst'")

# 3. NOTIFY latency
gcc -O2 -o "$work/notify_latency" "$bench/notify_latency.c" \
	-I"$("$PGC" --includedir)" -L"$("$PGC" --libdir)" -lpq
chmod 755 "$work/notify_latency"
conninfo="host=$work port=$port user=postgres dbname=postgres"
read -r mq50 mq99 mqmax <<<"$(as_pg "$work/notify_latency" "$conninfo" "$iterations" mq)"
read -r pl50 pl99 plmax <<<"$(as_pg "$work/notify_latency" "$conninfo" "$iterations" plain)"

release_rate=$(awk -v n="$messages" -v s="$release_s" 'BEGIN { printf "%d", n / s }')
baseline_rate=$(awk -v n="$messages" -v s="$baseline_s" 'BEGIN { printf "%d", n / s }')
release_ratio=$(awk -v a="$baseline_s" -v b="$release_s" 'BEGIN { printf "%.2f", a / b }')

cat <<EOF2
### Delayed messages: $messages due over one minute ($received received), $pending more pending

Sending the $messages took $send_s s.

| lateness (ms) | p50 | p99 | max |
|---|---|---|---|
| released (produced_at - due_at) | $rel50 | $rel99 | $relmax |
| received by a long-polling consumer | $rec50 | $rec99 | $recmax |

### Release throughput: $messages due at the same instant ($released released)

| | seconds | messages/s |
|---|---|---|
| mq worker (release: delete + send, 10000 a transaction) | $release_s | $release_rate |
| plain SQL baseline (DELETE ... RETURNING into INSERT, 10000 a transaction) | $baseline_s | $baseline_rate |

mq / baseline (throughput): $release_ratio

### NOTIFY latency: statement to notification at a LISTENing client, $iterations each (ms)

| | p50 | p99 | max |
|---|---|---|---|
| mq.send, notified by the worker | $mq50 | $mq99 | $mqmax |
| the producer's own NOTIFY (baseline) | $pl50 | $pl99 | $plmax |
EOF2

csv_file "${CSV_NAME:-delayed}"
cat >>"$csv" <<EOF2
messages,pending,send_s,received,released_p50_ms,released_p99_ms,released_max_ms,received_p50_ms,received_p99_ms,received_max_ms,released,release_s,release_messages_per_s,baseline_s,baseline_messages_per_s,release_ratio,notify_iterations,notify_p50_ms,notify_p99_ms,notify_max_ms,own_notify_p50_ms,own_notify_p99_ms,own_notify_max_ms
$messages,$pending,$send_s,$received,$rel50,$rel99,$relmax,$rec50,$rec99,$recmax,$released,$release_s,$release_rate,$baseline_s,$baseline_rate,$release_ratio,$iterations,$mq50,$mq99,$mqmax,$pl50,$pl99,$plmax
EOF2
