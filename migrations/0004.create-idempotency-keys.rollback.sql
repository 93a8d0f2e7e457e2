-- Drops what 0004 created.
DROP TABLE idempotency_keys;
