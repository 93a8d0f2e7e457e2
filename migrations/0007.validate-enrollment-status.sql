-- Validates the status constraint 0006 added NOT VALID: a scan under a lock that lets
-- reads and writes go on.
-- depends: 0006.add-enrollment-lifecycle
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE student_courses VALIDATE CONSTRAINT student_courses_status_known;
