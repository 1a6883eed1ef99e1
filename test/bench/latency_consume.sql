BEGIN;
INSERT INTO latencies (ms)
SELECT 1000 * (extract(epoch FROM clock_timestamp())
               - split_part(mq.payload_text(payload, payload_type), ' ', 1)::numeric)
  FROM mq.poll('lat', 'lat', max => 100, wait => '1 s');
SELECT mq.commit('lat');
COMMIT;
