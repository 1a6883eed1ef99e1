# docs/benchmarks.md, Record batches (issue 13), Draining 1M messages:
# test/bench/consume.sh 1000000 1 on, mq and the plain SKIP LOCKED queue
# against each other and against the floor, same run.
load "test/bench/chart_style.gpi"
set terminal pngcairo size 1000,480 font "sans,10" noenhanced
set output png("drain_batches")
f = csv("drain_batches")

x(m, k) = m eq "auto" ? (k == 1 ? 0 : k == 4 ? 1 : 2) : (k == 4 ? 3 : 4)
at(d) = x(strcol("mode"), column("consumers")) + d
label(col) = sprintf("%.2f", column(col))

set title "Draining 1,000,000 messages in batches of 100 (issue 13), test/bench/consume.sh 1000000 1 on: ratios of messages/s, same run"
set ylabel "ratio of messages/s"
set yrange [0:4.2]
set xrange [-0.6:4.6]
set xtics ("auto-commit\n1 consumer" 0, "auto-commit\n4 consumers" 1, "auto-commit\n16 consumers" 2, "in transactions\n4 consumers" 3, "in transactions\n16 consumers" 4)
set bmargin 4
set boxwidth 0.26
set key top right Left reverse
set style textbox opaque noborder margins 0.5, 0.5
plot f using (at(-0.28)):"mq_per_plain" with boxes lc rgb c_on title "mq / plain SKIP LOCKED queue", \
     f using (at(0)):"mq_per_floor" with boxes lc rgb c_3 title "mq / floor (the transaction shape doing no work)", \
     f using (at(0.28)):"plain_per_floor" with boxes lc rgb c_off title "plain / floor", \
     1 with lines dt 2 lc rgb "black" title "1: as fast", \
     3 with lines dt 3 lw 1.5 lc rgb c_6 title "issue 13's target for mq / plain: 3x", \
     f using (at(-0.28)):"mq_per_plain":(label("mq_per_plain")) with labels boxed offset 0, 0.6 font ",9", \
     f using (at(0)):"mq_per_floor":(label("mq_per_floor")) with labels boxed offset 0, 0.6 font ",9", \
     f using (at(0.28)):"plain_per_floor":(label("plain_per_floor")) with labels boxed offset 0, 0.6 font ",9"
