-- Undoes 0015. The functions and triggers stay as they are: the ones the releases before
-- this one defined in their migrations.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TABLE IF EXISTS schema_state;
