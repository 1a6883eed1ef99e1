# docs/benchmarks.md, Record batches (issue 13): the ratios of
# test/bench/run.sh 10 3 4 and 10 3 16 (mq over the plain outbox table,
# same run) against the issue's targets.
load "test/bench/chart_style.gpi"
set terminal pngcairo size 1300,560 font "sans,10" noenhanced
set output png("batches")
c4 = csv("batches_c4")
c16 = csv("batches_c16")
c4_disk = csv("batches_c4_storage")
c16_disk = csv("batches_c16_storage")

# 4 clients blue, 16 orange, synchronous_commit off lighter; in each group
# the "on" bars come first, so that a target per setting spans its half
c4_off = "#7fa7cf"
c16_off = "#f0c080"
# the group of a scenario compared with a baseline (NaN: not charted)
group(s, b) = s eq "send_batch" ? 0 : s eq "send_batch_nokey" ? 1 : b eq "business_outbox" ? 2 : NaN
# x of the row's bar: its group plus the series' offset d, if it has sync
at(sync, d) = strcol("synchronous_commit") eq sync ? group(strcol("scenario"), strcol("baseline")) + d : NaN
# the issue's targets, drawn over the bars and under their values
$tps_targets << EOD
x,target
-0.45,1.5
0.45,1.5

0.55,1.5
1.45,1.5

1.55,0.97
2.0,0.97

2.0,0.90
2.45,0.90
EOD
$wal_targets << EOD
x,target
-0.45,0.5
0.45,0.5

0.55,0.5
1.45,0.5

1.55,1.0
2.45,1.0

2.7,0.5
3.3,0.5
EOD
set style textbox opaque noborder margins 0.5, 0.5

set multiplot title "Record batches (issue 13), test/bench/run.sh 10 3 4 and 10 3 16: mq over the plain outbox table, same run"
set boxwidth 0.18
set bmargin 5

set size 0.5, 0.95
set origin 0, 0
set title "Throughput, mq / outbox (higher is better)"
set yrange [0:3]
set xrange [-0.55:2.55]
set xtics ("send_batch of 100\n/ INSERT ... SELECT of 100\n(target 1.5)" 0, "send_batch_nokey\n/ INSERT ... SELECT of 100\n(target 1.5)" 1, "INSERT + mq.send\n/ INSERT + outbox INSERT\n(target: on 0.97, off 0.90)" 2)
set key top left Left reverse
plot c4 using (at("on", -0.3)):"tps_ratio" with boxes lc rgb c_on title "4 clients, synchronous_commit on", \
     c16 using (at("on", -0.1)):"tps_ratio" with boxes lc rgb c_off title "16 clients, on", \
     c4 using (at("off", 0.1)):"tps_ratio" with boxes lc rgb c4_off title "4 clients, off", \
     c16 using (at("off", 0.3)):"tps_ratio" with boxes lc rgb c16_off title "16 clients, off", \
     $tps_targets using 1:2 with lines lw 2.5 lc rgb "black" title "issue 13's target", \
     c4 using (at("on", -0.3)):"tps_ratio":(sprintf("%.3f", column("tps_ratio"))) with labels boxed offset 0, 0.6 font ",8", \
     c16 using (at("on", -0.1)):"tps_ratio":(sprintf("%.3f", column("tps_ratio"))) with labels boxed offset 0, 0.6 font ",8", \
     c4 using (at("off", 0.1)):"tps_ratio":(sprintf("%.3f", column("tps_ratio"))) with labels boxed offset 0, 0.6 font ",8", \
     c16 using (at("off", 0.3)):"tps_ratio":(sprintf("%.3f", column("tps_ratio"))) with labels boxed offset 0, 0.6 font ",8"

set origin 0.5, 0
set title "WAL and disk per message, mq / outbox (lower is better)"
set yrange [0:1.3]
set xrange [-0.55:3.45]
set xtics ("WAL: send_batch\n/ INSERT ... SELECT\n(target 0.5)" 0, "WAL: send_batch_nokey\n/ INSERT ... SELECT\n(target 0.5)" 1, "WAL: mq.send\n/ outbox INSERT\n(target 1.0)" 2, "disk: topic / outbox\n(once per run)\n(target 0.5)" 3)
unset key
plot c4 using (at("on", -0.3)):"wal_ratio" with boxes lc rgb c_on, \
     c16 using (at("on", -0.1)):"wal_ratio" with boxes lc rgb c_off, \
     c4 using (at("off", 0.1)):"wal_ratio" with boxes lc rgb c4_off, \
     c16 using (at("off", 0.3)):"wal_ratio" with boxes lc rgb c16_off, \
     c4_disk using (strcol("storage") eq "topic" ? 2.9 : NaN):"ratio" with boxes lc rgb c_on, \
     c16_disk using (strcol("storage") eq "topic" ? 3.1 : NaN):"ratio" with boxes lc rgb c_off, \
     $wal_targets using 1:2 with lines lw 2.5 lc rgb "black", \
     c4 using (at("on", -0.3)):"wal_ratio":(sprintf("%.2f", column("wal_ratio"))) with labels boxed offset 0, 0.6 font ",8", \
     c16 using (at("on", -0.1)):"wal_ratio":(sprintf("%.2f", column("wal_ratio"))) with labels boxed offset 0, 0.6 font ",8", \
     c4 using (at("off", 0.1)):"wal_ratio":(sprintf("%.2f", column("wal_ratio"))) with labels boxed offset 0, 0.6 font ",8", \
     c16 using (at("off", 0.3)):"wal_ratio":(sprintf("%.2f", column("wal_ratio"))) with labels boxed offset 0, 0.6 font ",8", \
     c4_disk using (strcol("storage") eq "topic" ? 2.9 : NaN):"ratio":(sprintf("%.2f", column("ratio"))) with labels boxed offset 0, 0.6 font ",8", \
     c16_disk using (strcol("storage") eq "topic" ? 3.1 : NaN):"ratio":(sprintf("%.2f", column("ratio"))) with labels boxed offset 0, 0.6 font ",8"
unset multiplot
