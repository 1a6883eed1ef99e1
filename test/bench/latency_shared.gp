# docs/benchmarks.md, End-to-end latency of a shared receive (issue 14):
# MODE=shared test/bench/latency.sh 60 on.
load "test/bench/chart_style.gpi"
set terminal pngcairo size 800,440 font "sans,10" noenhanced
set output png("latency_shared")
f = csv("latency_shared")
chart_title = "End-to-end latency, shared subscription (MODE=shared test/bench/latency.sh 60 on):\n4 producers, one mq.send per transaction; 2 consumers, mq.receive and mq.ack"
issue_title = "issue 14"
load "test/bench/latency_rates.gpi"
