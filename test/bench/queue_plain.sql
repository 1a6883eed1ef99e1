-- test/bench/queue.sh: the plain queue: take up to 10 rows with SKIP
-- LOCKED and delete them, in one transaction.
WITH taken AS (SELECT id FROM plain_jobs ORDER BY id LIMIT 10 FOR UPDATE SKIP LOCKED)
DELETE FROM plain_jobs WHERE id IN (SELECT id FROM taken);
