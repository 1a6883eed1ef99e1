-- test/bench/router.sh: one keyed mq.send per transaction, on a node
-- directly (the router's baseline).
\set key random(1, 100000)
SELECT partition FROM mq.send('bench',
    ('{"event": "order.created", "customer": ' || :key || ', "amount": 42.00, "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}], "note": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}')::text,
    key => :key::text);
