-- transactional: false
-- squawk-disable-assume-in-transaction
SET lock_timeout = '5s';
SET statement_timeout = '60s';
DROP INDEX CONCURRENTLY IF EXISTS changes_deletes_idx;
DROP INDEX CONCURRENTLY IF EXISTS courses_sourced_id_idx;
DROP INDEX CONCURRENTLY IF EXISTS students_sourced_id_idx;
