-- name: try-lock-key
-- Claims the key until the transaction ends; false while another request holds it. The lock
-- is on the scope and key's hash within the class :lock_class (service/repositories/locks.py).
SELECT pg_try_advisory_xact_lock(:lock_class, hashtext(length(:scope) || ':' || :scope || :key));

-- name: select-key
-- The recorded response for a key used within the last 24 hours, or no row.
SELECT request_hash, status_code, location, body
FROM idempotency_keys
WHERE scope = :scope AND key = :key AND created_at > now() - interval '24 hours';

-- name: insert-key
-- Records the response; an expired row under the same key is replaced.
INSERT INTO idempotency_keys (scope, key, request_hash, status_code, location, body)
VALUES (:scope, :key, :request_hash, :status_code, :location, :body)
ON CONFLICT (scope, key) DO UPDATE
SET request_hash = excluded.request_hash,
    status_code = excluded.status_code,
    location = excluded.location,
    body = excluded.body,
    created_at = now();

-- name: delete-expired-keys
-- Deletes up to :batch keys older than 24 hours; small batches keep locks short.
DELETE FROM idempotency_keys
WHERE ctid = ANY (ARRAY(
    SELECT ctid FROM idempotency_keys
    WHERE created_at <= now() - interval '24 hours'
    LIMIT :batch
));
