-- test/bench/ddl_load.sh: a consumer fetches up to 10 messages and commits.
BEGIN;
SELECT count(*) FROM mq.fetch('load', max => 10);
SELECT mq.commit('load');
COMMIT;
