-- test/bench/latency.sh with MODE=shared: a consumer of a shared
-- subscription receives up to 100 messages (waiting up to 1 s), records
-- their latencies and acknowledges them, in one transaction.
BEGIN;
WITH r AS (SELECT receipt, payload_text
             FROM mq.receive('slat', 100, '30 s', '1 s')),
     l AS (INSERT INTO latencies (ms)
           SELECT 1000 * (extract(epoch FROM clock_timestamp())
                          - split_part(payload_text, ' ', 1)::numeric)
             FROM r)
SELECT mq.ack(ARRAY(SELECT receipt FROM r));
COMMIT;
