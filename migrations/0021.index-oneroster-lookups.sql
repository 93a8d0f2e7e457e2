-- The indexes the OneRoster service reads by (API.md v1.3): students and courses by their
-- sourcedId (the external id, else `student-<id>` / `course-<id>`: one lookup, and pages in
-- sourcedId order without a sort), and the feed's deletes (its tombstones; few, so the
-- partial index costs the feed's writes nothing). Built CONCURRENTLY so writes go on
-- meanwhile; that cannot run in a transaction, hence this file on its own.
-- A build that fails leaves an INVALID index: drop it (the rollback) and migrate again.
-- transactional: false
-- squawk-disable-assume-in-transaction
-- depends: 0020.keep-deleted-records
SET lock_timeout = '5s';
SET statement_timeout = '600s';

CREATE INDEX CONCURRENTLY IF NOT EXISTS students_sourced_id_idx
    ON students ((coalesce(external_id, 'student-' || id::text)));
CREATE INDEX CONCURRENTLY IF NOT EXISTS courses_sourced_id_idx
    ON courses ((coalesce(external_id, 'course-' || id::text)));
CREATE INDEX CONCURRENTLY IF NOT EXISTS changes_deletes_idx
    ON changes (entity, position) WHERE op = 'delete';
