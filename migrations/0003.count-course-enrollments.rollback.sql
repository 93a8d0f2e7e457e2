-- Drops what 0003 created.
SET lock_timeout = '5s';
SET statement_timeout = '60s';
DROP TRIGGER IF EXISTS student_courses_count ON student_courses;
DROP FUNCTION IF EXISTS count_course_enrollment();
ALTER TABLE courses DROP CONSTRAINT IF EXISTS courses_enrolled_within_capacity;
ALTER TABLE courses DROP COLUMN IF EXISTS enrolled_count;
