-- Setup of test/bench/delayed.sh.
CREATE EXTENSION IF NOT EXISTS mq;
SELECT mq.create_topic('late', partitions => 4);
SELECT mq.create_topic('burst', partitions => 4);
SELECT mq.create_topic('nl');
SELECT mq.create_topic('parked');
CREATE TABLE timings (name text, seconds numeric);
SELECT mq.subscribe('bench', 'late', start => 'latest');
CREATE TABLE due (id uuid PRIMARY KEY, due_at timestamptz);
CREATE TABLE recv (id uuid, produced_at timestamptz, received_at timestamptz);

-- long-poll the group until n messages arrived or the time is up
CREATE PROCEDURE consume_until(topic text, n bigint, upto interval)
LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + upto;
    got bigint := 0;
    batch bigint;
BEGIN
    WHILE got < n AND clock_timestamp() < deadline LOOP
        INSERT INTO recv
        SELECT p.id, p.produced_at, clock_timestamp()
          FROM mq.poll('bench', topic, max => 5000, wait => '1 s') p;
        GET DIAGNOSTICS batch = ROW_COUNT;
        got := got + batch;
        COMMIT;
    END LOOP;
END
$$;

-- The baseline: the same rows, moved by plain SQL into a table shaped and
-- indexed like a segment, 10000 per transaction, oldest due first.
CREATE TABLE store (LIKE mq.delayed_message INCLUDING ALL);
CREATE TABLE plain_log (
    partition integer NOT NULL,
    "offset" bigint NOT NULL,
    id uuid NOT NULL,
    produced_at timestamptz NOT NULL,
    payload_type "char" NOT NULL,
    key text COLLATE "C",
    tag text COLLATE "C",
    headers jsonb,
    payload bytea NOT NULL,
    PRIMARY KEY (partition, "offset"));
CREATE INDEX ON plain_log (key, produced_at) WHERE key IS NOT NULL;
CREATE INDEX ON plain_log USING brin (produced_at);
CREATE SEQUENCE plain_offset;
CREATE TABLE baseline (seconds numeric);
CREATE PROCEDURE move_plain()
LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz := clock_timestamp();
    moved bigint;
BEGIN
    LOOP
        WITH d AS (
            DELETE FROM store WHERE id IN (
                SELECT id FROM store ORDER BY due_at LIMIT 10000 FOR UPDATE SKIP LOCKED)
            RETURNING *)
        INSERT INTO plain_log
        SELECT abs(hashtext(coalesce(key, id::text))) % 4, nextval('plain_offset'),
               id, clock_timestamp(), payload_type, key, tag, headers, payload
          FROM d;
        GET DIAGNOSTICS moved = ROW_COUNT;
        COMMIT;
        EXIT WHEN moved = 0;
    END LOOP;
    INSERT INTO baseline
    SELECT round(extract(epoch FROM clock_timestamp() - started)::numeric, 3);
    COMMIT;
END
$$;
