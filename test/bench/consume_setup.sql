-- Topic, consumer group and plain queue table for test/bench/consume.sh.
-- psql variables: messages, partitions.
CREATE EXTENSION IF NOT EXISTS mq;

-- The same ~210-byte message for both: payload and key of message i.
CREATE FUNCTION bench_payload(i bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '{"event": "order.created", "customer": ' || i || ', "amount": 42.00, "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}], "note": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}' $$;
CREATE FUNCTION bench_key(i bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (i * 7919 % 100000)::text $$;

-- The plain SKIP LOCKED queue.
CREATE TABLE queue (
    id bigserial PRIMARY KEY,
    topic text NOT NULL,
    key text,
    payload text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The floor: the mq consumer's transaction shape (BEGIN, a SELECT, an
-- UPDATE of one small row per client, COMMIT) doing no work, to show what
-- round trips and the commit's WAL flush alone allow.
CREATE TABLE floor (id integer PRIMARY KEY, n bigint NOT NULL) WITH (fillfactor = 50);
INSERT INTO floor SELECT g, 0 FROM generate_series(0, 63) g;

-- Fill the topic with mq.send_batch, 10000 messages per transaction.
CREATE PROCEDURE fill_topic(n bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    lo bigint := 1;
BEGIN
    WHILE lo <= n LOOP
        PERFORM count(*) FROM mq.send_batch('bench',
            ARRAY(SELECT bench_payload(i) FROM generate_series(lo, least(lo + 9999, n)) i),
            keys => ARRAY(SELECT bench_key(i) FROM generate_series(lo, least(lo + 9999, n)) i));
        COMMIT;
        lo := lo + 10000;
    END LOOP;
END
$$;

SELECT mq.create_topic('bench', partitions => :partitions);
CALL fill_topic(:messages);
SELECT mq.subscribe('drain', 'bench', start => 'earliest');

-- Vacuum the segments once, as autovacuum would after the inserts, so
-- that the drain starts from the same clean state as the plain table.
SELECT format('VACUUM ANALYZE %s', s.relid)
  FROM mq.segment s JOIN mq.topic t USING (topic_id)
 WHERE t.name = 'bench' \gexec
