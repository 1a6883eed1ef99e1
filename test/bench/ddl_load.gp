# docs/benchmarks.md, Topic DDL under load (issue 15): test/bench/ddl_load.sh
# 30 150 at 30166f2 (one lock for all topic DDL) and at 91289f9 (a lock
# per topic), from the same go: latencies per kind of transaction, and
# what the active sessions were doing.
load "test/bench/chart_style.gpi"
set terminal pngcairo size 1100,500 font "sans,10" noenhanced
set output png("ddl_load")
before = csv("ddl_load_before")
after = csv("ddl_load_after")
before_s = csv("ddl_load_before_sessions")
after_s = csv("ddl_load_after_sessions")

set multiplot layout 1, 2 title "150 clients for 30 s, 2% of transactions topic DDL: one lock for all topic DDL (before, 30166f2) and a lock per topic (after, 91289f9)"

set size 0.62, 0.92
set origin 0, 0
set bmargin 4
set title "Latency (ms, log scale)"
set logscale y
set yrange [5:40000]
set ytics ("10" 10, "100" 100, "1000" 1000, "10000" 10000)
set xrange [-0.6:2.6]
set xtics ("send" 0, "fetch + commit" 1, "create + send + drop" 2)
set boxwidth 0.2
set key top left Left reverse
x(t) = t eq "send" ? 0 : t eq "fetch + commit" ? 1 : 2
at(d) = x(strcol("transaction")) + d
# the table's one decimal below 100 ms; above, whole ms (rounding half up)
lbl(v) = v < 100 ? sprintf("%.1f", v) : sprintf("%d", floor(v + 0.5))
plot before using (at(-0.33)):"p50_ms" with boxes lc rgb c_off fs solid 0.45 title "before, p50", \
     before using (at(-0.11)):"p99_ms" with boxes lc rgb c_off title "before, p99", \
     after using (at(0.11)):"p50_ms" with boxes lc rgb c_on fs solid 0.45 title "after, p50", \
     after using (at(0.33)):"p99_ms" with boxes lc rgb c_on title "after, p99", \
     before using (at(-0.33)):"p50_ms":(lbl(column("p50_ms"))) with labels offset 0, 0.6 font ",9", \
     before using (at(-0.11)):"p99_ms":(lbl(column("p99_ms"))) with labels offset 0, 0.6 font ",9", \
     after using (at(0.11)):"p50_ms":(lbl(column("p50_ms"))) with labels offset 0, 0.6 font ",9", \
     after using (at(0.33)):"p99_ms":(lbl(column("p99_ms"))) with labels offset 0, 0.6 font ",9"

set size 0.38, 0.92
set origin 0.62, 0
set title "Active sessions, mean of samples every 100 ms"
unset logscale y
set yrange [0:140]
set ytics auto
set xrange [-0.6:3.6]
set xtics ("waiting for\na lock" 0, "waiting for\nan LWLock" 1, "waiting\nfor I/O" 2, "running" 3)
set boxwidth 0.35
set key top right
# one row; its columns become the x positions
plot for [i = 0:3] before_s using (i - 0.19):(column(word("lock_mean lwlock_mean io_mean running_mean", i + 1))) with boxes lc rgb c_off title (i == 0 ? "before" : ""), \
     for [i = 0:3] after_s using (i + 0.19):(column(word("lock_mean lwlock_mean io_mean running_mean", i + 1))) with boxes lc rgb c_on title (i == 0 ? "after" : ""), \
     for [i = 0:3] before_s using (i - 0.19):(column(word("lock_mean lwlock_mean io_mean running_mean", i + 1))):(sprintf("%.1f", column(word("lock_mean lwlock_mean io_mean running_mean", i + 1)))) with labels offset 0, 0.6 font ",9", \
     for [i = 0:3] after_s using (i + 0.19):(column(word("lock_mean lwlock_mean io_mean running_mean", i + 1))):(sprintf("%.1f", column(word("lock_mean lwlock_mean io_mean running_mean", i + 1)))) with labels offset 0, 0.6 font ",9"
unset multiplot
