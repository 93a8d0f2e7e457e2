-- api_timestamp(): a timestamp as the API writes it (RFC 3339, UTC, `Z`, microseconds only
-- when there are any, exactly as the service's JSON encoder does), so that Postgres can
-- build whole response bodies in one statement.
-- depends: 0005.create-idempotency-keys
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE OR REPLACE FUNCTION api_timestamp(value timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN extract(microseconds FROM value)::bigint % 1000000 = 0
            THEN to_char(value AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        ELSE to_char(value AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    END
$$;
