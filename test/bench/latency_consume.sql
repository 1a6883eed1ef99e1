BEGIN;
INSERT INTO latencies (ms)
SELECT 1000 * (extract(epoch FROM clock_timestamp())
               - split_part(payload_text, ' ', 1)::numeric)
  FROM mq.poll('lat', 'lat', max => 100, wait => '1 s');
SELECT mq.commit('lat');
COMMIT;
