-- Before a drain: the group back to the start of the topic, the plain
-- queue refilled with the same messages, both vacuumed.
-- psql variable: messages.
SELECT count(*) FROM mq.seek('drain', 'bench', 'earliest');
SELECT pg_stat_force_next_flush();  -- the seek's counts before the VACUUM
VACUUM ANALYZE mq.position;
TRUNCATE queue RESTART IDENTITY;
INSERT INTO queue (topic, key, payload)
SELECT 'bench', bench_key(i), bench_payload(i)
  FROM generate_series(1, :messages) i;
VACUUM ANALYZE queue;
