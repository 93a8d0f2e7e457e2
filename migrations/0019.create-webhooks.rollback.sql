SET lock_timeout = '5s';
SET statement_timeout = '60s';
DROP TABLE IF EXISTS webhook_attempts;
DROP TABLE IF EXISTS webhooks;
