# docs/benchmarks.md, Delivering typed payloads (issue 16): mq / plain SKIP
# LOCKED queue of test/bench/consume.sh (drains of 1,000,000 messages, 100
# per transaction, synchronous_commit on), before and after the payload
# columns, each against its own run's plain queue.
load "test/bench/chart_style.gpi"
set terminal pngcairo size 900,500 font "sans,10" noenhanced
set output png("drain_payload")
before = csv("drain_payload_before")
after = csv("drain_payload_after")

x(mode, k) = (mode eq "auto" ? (k == 1 ? 0 : k == 4 ? 1 : 2) : (k == 4 ? 3 : 4))
at(d) = x(strcol("mode"), column("consumers")) + d

set title "Draining 1,000,000 messages (issue 16), test/bench/consume.sh, synchronous_commit on:\nmq's messages/s over the plain SKIP LOCKED queue's, same run (higher is better)"
set bmargin 4
set yrange [0:5.5]
set xrange [-0.55:4.55]
set xtics ("auto-commit\n1 consumer" 0, "auto-commit\n4 consumers" 1, "auto-commit\n16 consumers" 2, "in transactions\n4 consumers" 3, "in transactions\n16 consumers" 4)
set boxwidth 0.35
set style textbox opaque noborder margins 0.5, 0.5
set ylabel "mq / plain"
set key top left Left reverse
plot before using (at(-0.19)):"mq_per_plain" with boxes lc rgb c_5 title "ad2d5f1: payload bytea", \
     after using (at(0.19)):"mq_per_plain" with boxes lc rgb c_on title "1e6b118: payload_json, payload_text, payload_bytes", \
     1 with lines dt 2 lc rgb "black" title "1: as fast", \
     before using (at(-0.19)):"mq_per_plain":(sprintf("%.2f", column("mq_per_plain"))) with labels boxed offset 0, 0.6 font ",8", \
     after using (at(0.19)):"mq_per_plain":(sprintf("%.2f", column("mq_per_plain"))) with labels boxed offset 0, 0.6 font ",8"
