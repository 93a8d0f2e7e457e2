-- transactional: false
-- squawk-disable-assume-in-transaction
SET lock_timeout = '5s';
SET statement_timeout = '60s';
DROP INDEX CONCURRENTLY IF EXISTS courses_external_id_key;
DROP INDEX CONCURRENTLY IF EXISTS students_external_id_key;
