-- Validates the capacity constraint 0003 added NOT VALID: a scan under a lock that lets
-- reads and writes go on.
-- depends: 0003.count-course-enrollments
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE courses VALIDATE CONSTRAINT courses_enrolled_within_capacity;
