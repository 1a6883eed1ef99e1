# docs/benchmarks.md, Producing (issue 3): the diagnostic at a60e61b that
# dropped a segment's indexes by hand and alternated send_batch with
# outbox_batch (not a script: its table is the data).
load "test/bench/chart_style.gpi"
set terminal pngcairo size 1000,460 font "sans,10" noenhanced
set output png("segment_indexes")
f = csv("segment_indexes")

# the x of a configuration, and its number of pairs
x(c) = c eq "all (primary key; key; BRIN)" ? 0 : c eq "primary key and BRIN" ? 1 : c eq "primary key only" ? 2 : \
       c eq "1-partition topic; all" ? 3 : c eq "1-partition topic; primary key and BRIN" ? 4 : \
       c eq "a hash index on key instead of the btree" ? 5 : NaN
pairs(c) = x(c) >= 4 ? 3 : 2
at(c, p) = x(c) + (p - (pairs(c) + 1) / 2.0) * 0.26

set title "Issue 3 diagnostic at a60e61b: send_batch / outbox_batch with a segment's indexes dropped by hand\n(synchronous_commit off, 4 clients, 8 s per run, the two alternated; higher is better)"
set ylabel "send_batch / outbox_batch"
set yrange [0:1.3]
set xrange [-0.6:5.6]
set xtics ("all: primary key,\nkey, BRIN" 0, "primary key\nand BRIN" 1, "primary key\nonly" 2, "1-partition topic,\nall" 3, "1-partition topic,\nprimary key and BRIN" 4, "hash index on key\ninstead of the btree" 5)
set bmargin 4
set boxwidth 0.24
set key top right Left reverse
set style textbox opaque noborder margins 0.5, 0.5
plot f using (at(strcol("segment_indexes"), column("pair"))):"send_batch_per_outbox_batch" with boxes lc rgb c_on title "one pair of runs", \
     1 with lines dt 2 lc rgb "black" title "1: as fast as INSERT ... SELECT", \
     f using (at(strcol("segment_indexes"), column("pair"))):"send_batch_per_outbox_batch":(sprintf("%.2f", column("send_batch_per_outbox_batch"))) with labels boxed offset 0, 0.6 font ",9"
