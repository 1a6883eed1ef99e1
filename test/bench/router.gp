# docs/benchmarks.md, The router (issue 17): test/bench/router.sh's ratios,
# medians of per-round ratios of the same run: the router over 1 node
# against mq on that node directly, and the router over 2 and 3 nodes
# against the router over 1, per synchronous_commit and operation.  All
# nodes and the router share the same cores.
load "test/bench/chart_style.gpi"
set terminal pngcairo size 1000,500 font "sans,10" noenhanced
set output png("router")
f = csv("router")

set title "The router (issue 17), test/bench/router.sh, 3 nodes and the router on the same 2 cores:\ntransactions/s over the baseline's, same run (higher is better)"
set ylabel "ratio"
set yrange [0:1.4]
set xrange [-0.6:3.6]
set xtics ("synchronous_commit on\none send per transaction" 0, "on\nbatch of 100" 1, "off\none send per transaction" 2, "off\nbatch of 100" 3)
set boxwidth 0.26
set key top left Left reverse
set bmargin 4
set style textbox opaque noborder margins 0.5, 0.5
x(s, o) = (s eq "on" ? 0 : 2) + (o eq "batch" ? 1 : 0)
# the row's x if it is the router over n nodes, shifted to its place in
# the group
at(n, d) = strcol("path") eq "router" && column("nodes") == n ? x(strcol("synchronous_commit"), strcol("operation")) + d : NaN

plot f using (at(1, -0.28)):"ratio" with boxes lc rgb c_5 title "router over 1 node / mq on that node directly", \
     f using (at(2, 0)):"ratio" with boxes lc rgb c_3 title "router over 2 nodes / over 1 node", \
     f using (at(3, 0.28)):"ratio" with boxes lc rgb c_4 title "router over 3 nodes / over 1 node", \
     1 with lines dt 2 lc rgb "black" title "1: as fast as the baseline", \
     f using (at(1, -0.28)):"ratio":(sprintf("%.2f", column("ratio"))) with labels boxed offset 0, 0.6 font ",9", \
     f using (at(2, 0)):"ratio":(sprintf("%.2f", column("ratio"))) with labels boxed offset 0, 0.6 font ",9", \
     f using (at(3, 0.28)):"ratio":(sprintf("%.2f", column("ratio"))) with labels boxed offset 0, 0.6 font ",9"
