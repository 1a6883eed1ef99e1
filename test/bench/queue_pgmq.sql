-- test/bench/queue.sh: a pgmq consumer reads up to 10 messages with a
-- visibility timeout and deletes them, in one transaction.
SELECT pgmq.delete('jobs', ARRAY(SELECT msg_id FROM pgmq.read('jobs', 30, 10)));
