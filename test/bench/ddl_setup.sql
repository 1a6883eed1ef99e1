-- test/bench/ddl_load.sh: ten topics of 4 partitions, one group reading
-- them all.
SELECT mq.create_topic('load.' || g, partitions => 4) FROM generate_series(0, 9) g;
SELECT mq.subscribe('load', 'load.' || g, start => 'latest') FROM generate_series(0, 9) g;
