# docs/benchmarks.md, Consuming (issue 4): the p99 end-to-end latency of
# test/bench/latency.sh 60 "on off" in each run at the commits the section
# measured, against the issue's 5 ms.
load "test/bench/chart_style.gpi"
set terminal pngcairo size 1100,500 font "sans,10" noenhanced
set output png("latency")
r044a = csv("latency_044849c_run1")
r044b = csv("latency_044849c_run2")
rf68 = csv("latency_f6889fd")
r77ca = csv("latency_77cb259_run1")
r77cb = csv("latency_77cb259_run2")
runs = r044a." ".r044b." ".rf68." ".r77ca." ".r77cb

at(run, rate, sync, d) = strcol("producer_rate") eq rate && strcol("synchronous_commit") eq sync ? run + d : NaN

set multiplot layout 1, 2 title "End-to-end latency (issue 4), test/bench/latency.sh 60 \"on off\": p99 of every run, 4 producers (one mq.send per transaction), 2 consumers (mq.poll, mq.commit)"
set bmargin 4
set ylabel "p99 (ms)"
set yrange [0:26]
set xrange [-0.6:4.6]
set xtics ("044849c\nrun 1" 0, "044849c\nrun 2" 1, "f6889fd" 2, "77cb259\nrun 1" 3, "77cb259\nrun 2" 4)
set boxwidth 0.36
set style textbox opaque noborder margins 0.5, 0.5

do for [rate in "100_tx/s full_speed"] {
	r = rate eq "100_tx/s" ? "100 tx/s" : "full speed"
	set title "producers at ".(rate eq "100_tx/s" ? "100 transactions/s" : "full speed")
	if (rate eq "100_tx/s") { set key top right Left reverse } else { unset key }
	plot for [i = 1:5] word(runs, i) using (at(i - 1, r, "on", -0.19)):"p99_ms" with boxes lc rgb c_on title (i == 1 ? "synchronous_commit on" : ""), \
	     for [i = 1:5] word(runs, i) using (at(i - 1, r, "off", 0.19)):"p99_ms" with boxes lc rgb c_off title (i == 1 ? "off" : ""), \
	     5 with lines lw 2.5 lc rgb "black" title "issue 4's target: 5 ms", \
	     for [i = 1:5] word(runs, i) using (at(i - 1, r, "on", -0.19)):"p99_ms":(sprintf("%.2f", column("p99_ms"))) with labels boxed offset 0, 0.6 font ",8", \
	     for [i = 1:5] word(runs, i) using (at(i - 1, r, "off", 0.19)):"p99_ms":(sprintf("%.2f", column("p99_ms"))) with labels boxed offset 0, 0.6 font ",8"
}
unset multiplot
