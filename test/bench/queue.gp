# gnuplot script for docs/img/queue.png: the work-queue benchmark,
# test/bench/queue.sh 1000000 4 16 (the last lines of its output are
# docs/img/queue.dat).
# Run: gnuplot test/bench/queue.gp (from the top of the repository).
set terminal pngcairo size 900,440 font "sans,10" noenhanced
set output "docs/img/queue.png"
set title "Work queue, 1,000,000 messages: messages/s received and settled, 10 per transaction (higher is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set yrange [0:*]
set grid ytics
set key top left
plot "docs/img/queue.dat" using 2:xtic(1) title "mq shared subscription", \
     "" using 3 title "pgmq", \
     "" using 4 title "plain SKIP LOCKED table", \
     "" using 5 title "commit ceiling (one-row INSERT per transaction)" lc rgb "#aaaaaa"
