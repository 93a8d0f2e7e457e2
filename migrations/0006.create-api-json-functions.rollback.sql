-- Drops what 0006 created.
SET lock_timeout = '5s';
SET statement_timeout = '60s';
DROP FUNCTION IF EXISTS api_timestamp(timestamptz);
