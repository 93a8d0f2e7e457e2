-- Webhooks' functions, as they are now (API.md v1.3 "Webhooks"; the tables are migration
-- 0019's).

-- How many changes of `entities` have a feed position after `after`: a subscription's lag.
CREATE OR REPLACE FUNCTION webhook_lag(after bigint, entities text[]) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM changes AS c WHERE c.position > after AND c.entity = ANY(entities)
$$;
