-- Topic, consumer group and the consumers' record of latencies for
-- test/bench/latency.sh.
CREATE EXTENSION IF NOT EXISTS mq;
SELECT mq.create_topic('lat', partitions => 4);
SELECT mq.subscribe('lat', 'lat', start => 'latest');
-- Not part of what is measured: unlogged, so it adds no WAL.
CREATE UNLOGGED TABLE latencies (ms float8 NOT NULL);
