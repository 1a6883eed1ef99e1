-- count p50 p99 max mean, in ms, of the recorded latencies.
SELECT count(*),
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2),
       round(max(ms)::numeric, 2),
       round(avg(ms)::numeric, 2)
  FROM latencies;
