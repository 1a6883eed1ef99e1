# docs/benchmarks.md, Producing (issue 3): the throughput ratios of
# test/bench/run.sh 10 3 4 (mq over the plain outbox table or the business
# INSERT alone, same run), with the simple and the prepared protocol, and
# with the worker's notifications, against the issue's targets.
load "test/bench/chart_style.gpi"
set terminal pngcairo size 1100,520 font "sans,10" noenhanced
set output png("produce")
simple = csv("produce_simple")
prepared = csv("produce_prepared")
notify = csv("produce_notify")

# synchronous_commit off lighter; in each group the "on" bars come first
simple_off = "#7fa7cf"
prepared_off = "#a7d0a7"
notify_off = "#d0a7d0"
group(s, b) = b eq "business_outbox" ? 0 : b eq "business_only" ? 1 : s eq "send_batch" ? 2 : NaN
at(sync, d) = strcol("synchronous_commit") eq sync ? group(strcol("scenario"), strcol("baseline")) + d : NaN
ratio3(col) = sprintf("%.3f", column(col))

$targets << EOD
x,target
-0.45,0.95
0.45,0.95

1.55,1.0
2.45,1.0
EOD
$aims << EOD
x,aim
1.55,1.5
2.45,1.5
EOD
set style textbox opaque noborder margins 0.5, 0.5

set title "Producing (issue 3), test/bench/run.sh 10 3 4: mq over the plain baseline, same run (higher is better)"
set ylabel "mq / baseline, median of per-round ratios"
set yrange [0:1.8]
set xrange [-0.55:2.55]
set xtics ("INSERT + mq.send\n/ INSERT + outbox INSERT\n(target 0.95: at most 5 percent slower)" 0, "INSERT + mq.send\n/ the INSERT alone\n(no target)" 1, "send_batch of 100\n/ INSERT ... SELECT of 100\n(target 1.0, aim 1.5)" 2)
set bmargin 5
set boxwidth 0.13
set key top left Left reverse maxrows 4
plot simple using (at("on", -0.375)):"tps_ratio" with boxes lc rgb c_on title "simple protocol, synchronous_commit on", \
     prepared using (at("on", -0.225)):"tps_ratio" with boxes lc rgb c_3 title "prepared, on", \
     notify using (at("on", -0.075)):"tps_ratio" with boxes lc rgb c_4 title "simple, with notifications, on", \
     simple using (at("off", 0.075)):"tps_ratio" with boxes lc rgb simple_off title "simple, off", \
     prepared using (at("off", 0.225)):"tps_ratio" with boxes lc rgb prepared_off title "prepared, off", \
     notify using (at("off", 0.375)):"tps_ratio" with boxes lc rgb notify_off title "with notifications, off", \
     $targets using 1:2 with lines lw 2.5 lc rgb "black" title "issue 3's target", \
     $aims using 1:2 with lines lw 2.5 dt 2 lc rgb "black" title "issue 3's aim", \
     simple using (at("on", -0.375)):"tps_ratio":(ratio3("tps_ratio")) with labels boxed offset 0, 0.6 font ",8", \
     prepared using (at("on", -0.225)):"tps_ratio":(ratio3("tps_ratio")) with labels boxed offset 0, 0.6 font ",8", \
     notify using (at("on", -0.075)):"tps_ratio":(ratio3("tps_ratio")) with labels boxed offset 0, 0.6 font ",8", \
     simple using (at("off", 0.075)):"tps_ratio":(ratio3("tps_ratio")) with labels boxed offset 0, 0.6 font ",8", \
     prepared using (at("off", 0.225)):"tps_ratio":(ratio3("tps_ratio")) with labels boxed offset 0, 0.6 font ",8", \
     notify using (at("off", 0.375)):"tps_ratio":(ratio3("tps_ratio")) with labels boxed offset 0, 0.6 font ",8"
