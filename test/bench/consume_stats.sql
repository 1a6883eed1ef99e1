-- Size in bytes and dead tuples of the relations the drain touches, one
-- line each: name size n_dead_tup.
SELECT 'mq_log', sum(pg_total_relation_size(s.relid))::bigint,
       coalesce(sum(u.n_dead_tup), 0)::bigint
  FROM mq.segment s
  JOIN mq.topic t USING (topic_id)
  LEFT JOIN pg_stat_user_tables u ON u.relid = s.relid
 WHERE t.name = 'bench'
UNION ALL
SELECT 'mq_position', pg_total_relation_size('mq.position'), coalesce(u.n_dead_tup, 0)
  FROM pg_stat_user_tables u WHERE u.relid = 'mq.position'::regclass
UNION ALL
SELECT 'queue', pg_total_relation_size('queue'), coalesce(u.n_dead_tup, 0)
  FROM pg_stat_user_tables u WHERE u.relid = 'queue'::regclass;
