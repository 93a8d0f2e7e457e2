-- Drops what 0001 created.
DROP TABLE courses;
DROP TABLE students;
