--
-- Kafka's default partitioner: murmur2 of the key's bytes, sign bit
-- cleared, modulo the partition count.
--

-- With 2147483647 partitions the result is Kafka's toPositive(murmur2(key))
-- itself (for these keys), so these are the published vectors of Kafka's
-- UtilsTest.testMurmur2, with the sign bit cleared.
SELECT key, mq.partition_for(key, 2147483647) AS positive_hash, expected,
       mq.partition_for(key, 2147483647) = expected AS matches_kafka
  FROM (VALUES ('21', -973932308 & 2147483647),
               ('foobar', -790332482 & 2147483647),
               ('a-little-bit-long-string', -985981536 & 2147483647),
               ('a-little-bit-longer-string', -1486304829 & 2147483647),
               ('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971 & 2147483647),
               ('abc', 479470107)) AS v(key, expected);

-- The partition is that value modulo the partition count.
SELECT mq.partition_for('21', 10) AS p10, mq.partition_for('abc', 12) AS p12,
       mq.partition_for('', 3) AS empty_key;

-- A partition count below 1 is an error.
SELECT mq.partition_for('abc', 0);
\echo :LAST_ERROR_SQLSTATE
