# docs/benchmarks.md, Timed work (issue 5): test/bench/delayed.sh 100000
# 300 PENDING in each run at the commits the section measured: lateness
# against the 50 ms target, release throughput over the plain-SQL baseline
# of the same run, and NOTIFY latency.
load "test/bench/chart_style.gpi"
set terminal pngcairo size 1100,860 font "sans,10" noenhanced
set output png("delayed")
r552 = csv("delayed_552a5ff")
r6b8 = csv("delayed_6b878f1")
r079 = csv("delayed_079db59")
r71c = csv("delayed_71cfc61")
# the runs in order: each file's rows, from x = its first
runs = r552." ".r6b8." ".r079." ".r71c
first(i) = i == 1 ? 0 : i == 2 ? 2 : i == 3 ? 4 : 6

set multiplot title "Delayed messages (issue 5), test/bench/delayed.sh 100000 300 PENDING, at the commits the section measured"
set style textbox opaque noborder margins 0.5, 0.5
set xrange [-0.6:6.6]
set xtics ("552a5ff\n0" 0, "552a5ff\n1M" 1, "6b878f1\n0" 2, "6b878f1\n0, again" 3, "079db59\n0" 4, "079db59\n1M" 5, "71cfc61\n1M" 6)
set xlabel "commit, and delayed messages pending in the store" offset 0, -0.8
set bmargin 5

set size 1, 0.5
set origin 0, 0.45
set title "Lateness of 100,000 messages due over one minute: p99 after their due time (ms, log scale; lower is better)"
set logscale y
set yrange [0.3:300]
set ytics ("0.5" 0.5, "1" 1, "2" 2, "5" 5, "10" 10, "20" 20, "50" 50, "100" 100, "200" 200)
set boxwidth 0.36
set key top left Left reverse
plot for [i = 1:4] word(runs, i) using (first(i) + $0 - 0.19):"released_p99_ms" with boxes lc rgb c_on title (i == 1 ? "released (produced_at - due_at)" : ""), \
     for [i = 1:4] word(runs, i) using (first(i) + $0 + 0.19):"received_p99_ms" with boxes lc rgb c_off title (i == 1 ? "received by a long-polling consumer" : ""), \
     50 with lines lw 2.5 lc rgb "black" title "issue 5's target: 50 ms", \
     for [i = 1:4] word(runs, i) using (first(i) + $0 - 0.19):"released_p99_ms":(sprintf("%.1f", column("released_p99_ms"))) with labels boxed offset 0, 0.6 font ",8", \
     for [i = 1:4] word(runs, i) using (first(i) + $0 + 0.19):"received_p99_ms":(sprintf("%.1f", column("received_p99_ms"))) with labels boxed offset 0, 0.6 font ",8"

set size 0.5, 0.45
set origin 0, 0
set title "Release of 100,000 due at once: mq / plain SQL, same run\n(messages/s; higher is better)"
unset logscale y
set yrange [0:1.6]
set ytics auto
set boxwidth 0.5
unset key
plot for [i = 1:4] word(runs, i) using (first(i) + $0):"release_ratio" with boxes lc rgb c_3, \
     1 with lines dt 2 lc rgb "black", \
     for [i = 1:4] word(runs, i) using (first(i) + $0):"release_ratio":(sprintf("%.2f", column("release_ratio"))) with labels boxed offset 0, 0.6 font ",8"

set origin 0.5, 0
set title "NOTIFY: statement to the LISTENing client,\np99 (ms, log scale; lower is better)"
set logscale y
set yrange [0.1:400]
set ytics ("0.1" 0.1, "0.2" 0.2, "0.5" 0.5, "1" 1, "2" 2, "5" 5, "10" 10, "20" 20, "50" 50, "100" 100, "200" 200)
set boxwidth 0.36
set key top left Left reverse
plot for [i = 1:4] word(runs, i) using (first(i) + $0 - 0.19):"notify_p99_ms" with boxes lc rgb c_4 title (i == 1 ? "mq.send, notified by the worker" : ""), \
     r552 using ($0 + 0.19):"own_notify_p99_ms" with boxes lc rgb c_5 title "the producer's own NOTIFY (552a5ff only)", \
     for [i = 1:4] word(runs, i) using (first(i) + $0 - 0.19):"notify_p99_ms":(sprintf("%.2f", column("notify_p99_ms"))) with labels boxed offset 0, 0.6 font ",7", \
     r552 using ($0 + 0.19):"own_notify_p99_ms":(sprintf("%.2f", column("own_notify_p99_ms"))) with labels boxed offset 0, 0.6 font ",7"
unset multiplot
