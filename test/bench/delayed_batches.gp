# docs/benchmarks.md, Record batches (issue 13), Latency and the delayed
# release: test/bench/delayed.sh 20000 200, one run.
load "test/bench/chart_style.gpi"
set terminal pngcairo size 1100,460 font "sans,10" noenhanced
set output png("delayed_batches")
f = csv("delayed_batches")

stats f using "release_ratio" nooutput
ratio = STATS_max

set multiplot layout 1, 3 title "Delayed messages with record batches, test/bench/delayed.sh 20000 200 (20,000 messages, none pending)"
set style textbox opaque noborder margins 0.5, 0.5
set bmargin 4
set xrange [-0.6:2.6]
set xtics ("p50" 0, "p99" 1, "max" 2)
set boxwidth 0.36
set key top left Left reverse
set logscale y
set ytics ("0.1" 0.1, "0.2" 0.2, "0.5" 0.5, "1" 1, "2" 2, "5" 5, "10" 10, "20" 20, "50" 50, "100" 100)
pct(n) = word("p50 p99 max", n + 1)
# one row: percentile i of a measure m (released, received, notify, own_notify)
col(m, i) = column(m."_".pct(i)."_ms")

set title "Lateness after the due time (ms, log scale)"
set yrange [0.05:1500]
plot for [i = 0:2] f using (i - 0.19):(col("released", i)) with boxes lc rgb c_on title (i == 0 ? "released (produced_at - due_at)" : ""), \
     for [i = 0:2] f using (i + 0.19):(col("received", i)) with boxes lc rgb c_off title (i == 0 ? "received by a consumer" : ""), \
     50 with lines lw 2.5 lc rgb "black" title "issue 13's target for the p99: 50 ms", \
     for [i = 0:2] f using (i - 0.19):(col("released", i)):(sprintf("%.1f", col("released", i))) with labels boxed offset 0, 0.6 font ",8", \
     for [i = 0:2] f using (i + 0.19):(col("received", i)):(sprintf("%.1f", col("received", i))) with labels boxed offset 0, 0.6 font ",8"

set title sprintf("Release of 20,000 due at once (messages/s)\nmq / plain SQL, same run: %.2f", ratio)
unset logscale y
set yrange [0:300000]
set ytics auto format "%.0s%c"
set xrange [-0.6:1.6]
set xtics ("mq worker" 0, "plain SQL\n(DELETE ... RETURNING\ninto INSERT)" 1)
set boxwidth 0.5
unset key
plot f using (0):"release_messages_per_s" with boxes lc rgb c_3, \
     f using (1):"baseline_messages_per_s" with boxes lc rgb c_5, \
     f using (0):"release_messages_per_s":(sprintf("%d", column("release_messages_per_s"))) with labels boxed offset 0, 0.6 font ",8", \
     f using (1):"baseline_messages_per_s":(sprintf("%d", column("baseline_messages_per_s"))) with labels boxed offset 0, 0.6 font ",8"

set title "NOTIFY: statement to the LISTENing client\n(ms, log scale)"
set logscale y
set yrange [0.1:100]
set ytics ("0.1" 0.1, "0.2" 0.2, "0.5" 0.5, "1" 1, "2" 2, "5" 5, "10" 10, "20" 20, "50" 50, "100" 100) format "% h"
set xrange [-0.6:2.6]
set xtics ("p50" 0, "p99" 1, "max" 2)
set boxwidth 0.36
set key top left Left reverse
plot for [i = 0:2] f using (i - 0.19):(col("notify", i)) with boxes lc rgb c_4 title (i == 0 ? "mq.send, notified by the worker" : ""), \
     for [i = 0:2] f using (i + 0.19):(col("own_notify", i)) with boxes lc rgb c_5 title (i == 0 ? "the producer's own NOTIFY" : ""), \
     for [i = 0:2] f using (i - 0.19):(col("notify", i)):(sprintf("%.2f", col("notify", i))) with labels boxed offset 0, 0.6 font ",8", \
     for [i = 0:2] f using (i + 0.19):(col("own_notify", i)):(sprintf("%.2f", col("own_notify", i))) with labels boxed offset 0, 0.6 font ",8"
unset multiplot
