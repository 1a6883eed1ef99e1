# docs/benchmarks.md, Work queues (issue 14): mq's messages/s over each
# baseline of the same run of test/bench/queue.sh, per synchronous_commit
# and consumer count.
load "test/bench/chart_style.gpi"
set terminal pngcairo size 1000,480 font "sans,10" noenhanced
set output png("queue")
f = csv("queue")

set title "Work queue, 1,000,000 messages, 10 per transaction: mq's messages/s over each baseline's, same run (higher: mq faster)"
set ylabel "mq / baseline"
set yrange [0:11]
set xrange [-0.6:3.6]
set xtics ("synchronous_commit on\n4 consumers" 0, "on\n16 consumers" 1, "off\n4 consumers" 2, "off\n16 consumers" 3)
set boxwidth 0.26
set key top left Left reverse
set bmargin 4
set style textbox opaque noborder margins 0.5, 0.5
x(s, c) = (s eq "on" ? 0 : 2) + (c == 16 ? 1 : 0)
# the row's x for baseline b, shifted to its place in the group
at(b, d) = strcol("system") eq b ? x(strcol("synchronous_commit"), column("consumers")) + d : NaN

plot f using (at("pgmq", -0.28)):"mq_ratio" with boxes lc rgb c_on title "mq / pgmq 1.5.1", \
     f using (at("plain", 0)):"mq_ratio" with boxes lc rgb c_off title "mq / plain SKIP LOCKED table", \
     f using (at("commit ceiling", 0.28)):"mq_ratio" with boxes lc rgb c_5 title "mq / commit ceiling (one-row INSERT per transaction)", \
     1 with lines dt 2 lc rgb "black" title "1: as fast as the baseline", \
     3 with lines dt 3 lw 1.5 lc rgb c_6 title "issue 14's target against pgmq: 3x", \
     f using (at("pgmq", -0.28)):"mq_ratio":(sprintf("%.2f", column("mq_ratio"))) with labels boxed offset 0, 0.6 font ",9", \
     f using (at("plain", 0)):"mq_ratio":(sprintf("%.2f", column("mq_ratio"))) with labels boxed offset 0, 0.6 font ",9", \
     f using (at("commit ceiling", 0.28)):"mq_ratio":(sprintf("%.2f", column("mq_ratio"))) with labels boxed offset 0, 0.6 font ",9"
