# gnuplot script for docs/img/batches.png: the ratios of issue 13's
# producer benchmark (test/bench/run.sh 10 3 4 and 16) against their
# targets.  Data: docs/img/batches.dat, one line per ratio:
#   label  4-clients-on  4-clients-off  16-clients-on  16-clients-off  target
# Run: gnuplot test/bench/batches.gp (from the top of the repository).
set terminal pngcairo size 1000,520 font "sans,10" noenhanced
set output "docs/img/batches.png"
set title "mq with record batches / plain outbox table, same run (higher is better, except WAL and size)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set yrange [0:*]
set grid ytics
set xtics rotate by -20
set key top right
plot "docs/img/batches.dat" using 2:xtic(1) title "4 clients, sync on", \
     "" using 3 title "4 clients, sync off", \
     "" using 4 title "16 clients, sync on", \
     "" using 5 title "16 clients, sync off", \
     "" using 0:6 with points pt 7 ps 1.5 lc rgb "black" title "target"
