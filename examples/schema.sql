-- The shop of the examples: a topic, the billing group, and the tables the
-- producers and consumers write.  Run once per database, for example:
--   psql -d shop -f examples/schema.sql
CREATE EXTENSION IF NOT EXISTS mq;

SELECT mq.create_topic('order.created', partitions => 4);
SELECT mq.subscribe('billing', 'order.created', start => 'earliest');

-- Amounts in cents: JSON numbers are floats in JavaScript.
CREATE TABLE orders (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer     text NOT NULL,
    amount_cents bigint NOT NULL,
    placed_at    timestamptz NOT NULL DEFAULT now()
);

-- The consumers' effect.  The primary key makes a second charge of an
-- order fail instead of charging twice.
CREATE TABLE charges (
    order_id     bigint PRIMARY KEY,
    customer     text NOT NULL,
    amount_cents bigint NOT NULL,
    charged_at   timestamptz NOT NULL DEFAULT now()
);
