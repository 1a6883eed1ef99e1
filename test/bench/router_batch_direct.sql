-- test/bench/router.sh: mq.send_batch of 100 keyed messages, on a node
-- directly (the router's baseline).
\set base random(1, 100000)
SELECT count(*) FROM mq.send_batch('bench',
    ARRAY(SELECT ('{"event": "order.created", "customer": ' || (:base + g) || ', "amount": 42.00, "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}], "note": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}')::text
            FROM generate_series(1, 100) g),
    keys => ARRAY(SELECT (:base + g)::text FROM generate_series(1, 100) g));
