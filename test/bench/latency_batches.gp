# docs/benchmarks.md, Record batches (issue 13), Latency and the delayed
# release: test/bench/latency.sh 30 on.
load "test/bench/chart_style.gpi"
set terminal pngcairo size 800,440 font "sans,10" noenhanced
set output png("latency_batches")
f = csv("latency_batches")
chart_title = "End-to-end latency with record batches (test/bench/latency.sh 30 on):\n4 producers, one mq.send per transaction; 2 consumers, mq.poll and mq.commit"
issue_title = "issue 13"
load "test/bench/latency_rates.gpi"
