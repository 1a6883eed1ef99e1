\set customer random(1, 100000)
BEGIN;
INSERT INTO orders (customer, amount) VALUES (:customer, 42.00);
SELECT partition FROM mq.send('bench',
    ('{"event": "order.created", "customer": ' || :customer || ', "amount": 42.00, "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}], "note": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}'),
    key => :customer::text);
COMMIT;
