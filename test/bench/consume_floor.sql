BEGIN;
SELECT 1;
UPDATE floor SET n = n + 1 WHERE id = :client_id;
COMMIT;
