-- test/bench/queue.sh: a consumer of mq's shared subscription takes up to
-- 10 messages and acknowledges them, in one transaction.
SELECT mq.ack(ARRAY(SELECT receipt FROM mq.receive('workers', 10, '30 s')));
