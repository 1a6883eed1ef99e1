-- test/bench/router.sh: one keyed send per transaction through the router
-- (mq_router.send, which calls mq.send on the node of the key's partition).
\set key random(1, 100000)
SELECT partition FROM mq_router.send('bench',
    ('{"event": "order.created", "customer": ' || :key || ', "amount": 42.00, "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}], "note": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}')::text,
    key => :key::text);
