# docs/benchmarks.md, Consuming (issue 4): mq / plain SKIP LOCKED queue of
# test/bench/consume.sh (drains of 1,000,000 messages, 100 per
# transaction), same run, at the commits the section measured.
load "test/bench/chart_style.gpi"
set terminal pngcairo size 1100,500 font "sans,10" noenhanced
set output png("drain")
r044 = csv("drain_044849c")
rf68 = csv("drain_f6889fd")
r77c = csv("drain_77cb259")
r8d3 = csv("drain_8d3d019")

x(k) = k == 1 ? 0 : k == 4 ? 1 : 2
at(sync, d) = strcol("synchronous_commit") eq sync ? x(column("consumers")) + d : NaN

set multiplot layout 1, 2 title "Draining 1,000,000 messages (issue 4), test/bench/consume.sh: mq's messages/s over the plain SKIP LOCKED queue's, same run (higher is better)"
set bmargin 4
set yrange [0:5.5]
set xrange [-0.55:2.55]
set xtics ("1 consumer" 0, "4 consumers" 1, "16 consumers" 2)
set boxwidth 0.19
set style textbox opaque noborder margins 0.5, 0.5
set ylabel "mq / plain"

do for [sync in "on off"] {
	set title "synchronous_commit ".sync
	if (sync eq "on") { set key top left Left reverse } else { unset key }
	plot r044 using (at(sync, -0.3)):"mq_per_plain" with boxes lc rgb c_5 title "044849c", \
	     rf68 using (at(sync, -0.1)):"mq_per_plain" with boxes lc rgb c_off title "f6889fd", \
	     r77c using (at(sync, 0.1)):"mq_per_plain" with boxes lc rgb c_on title "77cb259 (plans kept)", \
	     r8d3 using (at(sync, 0.3)):"mq_per_plain" with boxes lc rgb c_3 title "8d3d019 (kept subscriptions, direct reads; on only)", \
	     3 with lines dt 3 lw 1.5 lc rgb c_6 title "issue 4's target: 3x", \
	     1 with lines dt 2 lc rgb "black" title "1: as fast", \
	     r044 using (at(sync, -0.3)):"mq_per_plain":(sprintf("%.2f", column("mq_per_plain"))) with labels boxed offset 0, 0.6 font ",8", \
	     rf68 using (at(sync, -0.1)):"mq_per_plain":(sprintf("%.2f", column("mq_per_plain"))) with labels boxed offset 0, 0.6 font ",8", \
	     r77c using (at(sync, 0.1)):"mq_per_plain":(sprintf("%.2f", column("mq_per_plain"))) with labels boxed offset 0, 0.6 font ",8", \
	     r8d3 using (at(sync, 0.3)):"mq_per_plain":(sprintf("%.2f", column("mq_per_plain"))) with labels boxed offset 0, 0.6 font ",8"
}
unset multiplot
