-- test/bench/ddl_load.sh: a producer sends one message to one of the topics.
\set t random(0, 9)
SELECT partition FROM mq.send('load.' || :t, 'payload of a message'::text);
