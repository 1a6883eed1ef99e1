\set customer random(1, 100000)
BEGIN;
INSERT INTO orders (customer, amount) VALUES (:customer, 42.00);
INSERT INTO outbox (topic, key, payload)
    VALUES ('bench', :customer::text, ('{"event": "order.created", "customer": ' || :customer || ', "amount": 42.00, "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}], "note": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}')::jsonb);
COMMIT;
