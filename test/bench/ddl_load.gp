# gnuplot script for docs/img/ddl_load.png: latencies of
# test/bench/ddl_load.sh 30 150 before and after topic DDL took a lock per
# topic.  Data: docs/img/ddl_load.dat.
# Run: gnuplot test/bench/ddl_load.gp (from the top of the repository).
set terminal pngcairo size 900,480 font "sans,10" noenhanced
set output "docs/img/ddl_load.png"
set title "150 clients, 2% topic DDL: latency (ms, log scale), one lock for all topic DDL vs. one per topic"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set logscale y
set yrange [1:*]
set grid ytics
set key top left
plot "docs/img/ddl_load.dat" using 2:xtic(1) title "before, p50", \
     "" using 3 title "before, p99", \
     "" using 4 title "after, p50", \
     "" using 5 title "after, p99"
