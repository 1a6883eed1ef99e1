-- test/bench/ddl_load.sh: topic DDL: create a topic, send to it, drop it,
-- each in its own transaction, as a test or a tenant's setup would.
\set n random(1, 1000000000)
SELECT mq.create_topic('tmp.' || :client_id || '.' || :n, partitions => 2);
SELECT partition FROM mq.send('tmp.' || :client_id || '.' || :n, 'x'::text);
SELECT mq.drop_topic('tmp.' || :client_id || '.' || :n);
