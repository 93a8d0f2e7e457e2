-- Undoes 0020. The triggers of sql/schema/ as this release has it write the column: until
-- the previous release's `python -m service migrate` (or its start) applies its own
-- sql/schema/, a delete of a student, course or enrollment fails. Roll back, then start it.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE changes DROP COLUMN IF EXISTS was;
