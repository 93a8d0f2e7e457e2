-- Undoes 0008: the feed's triggers, functions and tables.
SET lock_timeout = '5s';
SET statement_timeout = '60s';
DROP TRIGGER IF EXISTS student_courses_feed ON student_courses;
DROP TRIGGER IF EXISTS courses_feed ON courses;
DROP TRIGGER IF EXISTS students_feed ON students;
DROP FUNCTION IF EXISTS sequence_changes(int);
DROP FUNCTION IF EXISTS record_change();
DROP FUNCTION IF EXISTS feed_data(student_courses);
DROP FUNCTION IF EXISTS feed_data(courses);
DROP FUNCTION IF EXISTS feed_data(students);
DROP FUNCTION IF EXISTS feed_key(student_courses);
DROP FUNCTION IF EXISTS feed_key(courses);
DROP FUNCTION IF EXISTS feed_key(students);
DROP FUNCTION IF EXISTS api_timestamp(timestamptz);
DROP TABLE IF EXISTS change_feed_state;
DROP TABLE IF EXISTS changes;
