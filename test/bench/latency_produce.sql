\set customer random(1, 100000)
SELECT partition FROM mq.send('lat',
    extract(epoch FROM clock_timestamp()) || ' ' || repeat('x', 180),
    key => :customer::text);
