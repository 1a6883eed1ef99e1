BEGIN;
SELECT payload, payload_type FROM mq.fetch('drain', 'bench', max => 100);
SELECT mq.commit('drain');
COMMIT;
