-- Drops what 0001 created.
SET lock_timeout = '5s';
SET statement_timeout = '60s';
DROP TABLE IF EXISTS courses;
DROP TABLE IF EXISTS students;
