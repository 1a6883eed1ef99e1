-- test/bench/router.sh: 100 keyed messages through the router
-- (mq_router.send_batch: one PL/Proxy call, each node's elements in one
-- transaction there).
\set base random(1, 100000)
SELECT count(*) FROM mq_router.send_batch('bench',
    ARRAY(SELECT ('{"event": "order.created", "customer": ' || (:base + g) || ', "amount": 42.00, "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}], "note": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}')::text
            FROM generate_series(1, 100) g),
    keys => ARRAY(SELECT (:base + g)::text FROM generate_series(1, 100) g));
