-- The unique indexes behind external ids (exact match; NULLs do not collide), built
-- CONCURRENTLY so writes go on meanwhile; that cannot run in a transaction, hence this file
-- on its own.
-- A build that fails leaves an INVALID index: drop it (0017's rollback) and migrate again.
-- transactional: false
-- squawk-disable-assume-in-transaction
-- depends: 0016.add-external-ids
SET lock_timeout = '5s';
SET statement_timeout = '600s';

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS students_external_id_key
    ON students (external_id);
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS courses_external_id_key
    ON courses (external_id);
