-- Validates the CHECKs that 0016 added NOT VALID: a scan under a lock that lets reads and
-- writes go on.
-- depends: 0017.index-external-ids
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE students VALIDATE CONSTRAINT students_external_id_format;
ALTER TABLE courses VALIDATE CONSTRAINT courses_external_id_format;
