-- Drops what 0005 created.
SET lock_timeout = '5s';
SET statement_timeout = '60s';
DROP TABLE IF EXISTS idempotency_keys;
