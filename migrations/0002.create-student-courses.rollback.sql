-- Drops what 0002 created.
DROP TABLE student_courses;
