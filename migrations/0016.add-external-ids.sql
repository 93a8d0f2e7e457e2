-- External ids (API.md v1.2): the caller's own identifier for a student or a course, 1..128
-- visible ASCII characters, unique per entity, NULL when unset.
-- Kept short under write load on big tables: a nullable column without a default changes
-- only the catalog (no row is rewritten), the CHECKs are added NOT VALID (only new rows are
-- checked now; every existing row is NULL) and validated by 0018, and 0017 builds the
-- unique indexes CONCURRENTLY, without blocking writes.
-- depends: 0015.create-schema-state
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE students ADD COLUMN IF NOT EXISTS external_id text;
ALTER TABLE students
    ADD CONSTRAINT students_external_id_format
    CHECK (external_id ~ '^[!-~]{1,128}$') NOT VALID;

ALTER TABLE courses ADD COLUMN IF NOT EXISTS external_id text;
ALTER TABLE courses
    ADD CONSTRAINT courses_external_id_format
    CHECK (external_id ~ '^[!-~]{1,128}$') NOT VALID;
