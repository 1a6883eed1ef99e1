-- Tables and topic shared by the produce benchmarks.
CREATE EXTENSION IF NOT EXISTS mq;
DROP TABLE IF EXISTS orders, outbox;
CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer integer NOT NULL,
    amount numeric NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- The classic transactional outbox table, for comparison.
CREATE TABLE outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic text NOT NULL,
    key text,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
SELECT mq.drop_topic('bench', if_exists => true);
SELECT mq.create_topic('bench', partitions => 16);
