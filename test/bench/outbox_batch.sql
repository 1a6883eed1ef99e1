\set base random(1, 100000)
INSERT INTO outbox (topic, key, payload)
SELECT 'bench', (:base + g)::text,
       ('{"event": "order.created", "customer": ' || (:base + g) || ', "amount": 42.00, "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}], "note": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}')::jsonb
  FROM generate_series(1, 100) g;
