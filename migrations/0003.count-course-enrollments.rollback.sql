-- Drops what 0003 created.
DROP TRIGGER student_courses_count ON student_courses;
DROP FUNCTION count_course_enrollment();
ALTER TABLE courses DROP CONSTRAINT courses_enrolled_within_capacity;
ALTER TABLE courses DROP COLUMN enrolled_count;
