\set customer random(1, 100000)
BEGIN;
INSERT INTO orders (customer, amount) VALUES (:customer, 42.00);
COMMIT;
