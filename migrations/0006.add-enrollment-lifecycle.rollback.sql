-- Undoes 0006: records that v1 cannot show (dropped, completed, waitlisted) are deleted, and
-- 0003's count of every row comes back.
SET lock_timeout = '5s';
SET statement_timeout = '60s';
DROP TRIGGER IF EXISTS student_courses_history ON student_courses;
DROP TRIGGER IF EXISTS student_courses_transition ON student_courses;
DROP FUNCTION IF EXISTS record_enrollment_event();
DROP FUNCTION IF EXISTS check_enrollment_transition();
DROP TABLE IF EXISTS enrollment_events;
DELETE FROM student_courses WHERE status <> 'enrolled';

CREATE OR REPLACE FUNCTION count_course_enrollment() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE courses SET enrolled_count = enrolled_count + 1 WHERE id = NEW.course_id;
    ELSE
        UPDATE courses SET enrolled_count = enrolled_count - 1 WHERE id = OLD.course_id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER student_courses_count
AFTER INSERT OR DELETE ON student_courses
FOR EACH ROW EXECUTE FUNCTION count_course_enrollment();

ALTER TABLE student_courses DROP CONSTRAINT IF EXISTS student_courses_status_known;
ALTER TABLE student_courses DROP COLUMN IF EXISTS status_changed_at;
ALTER TABLE student_courses DROP COLUMN IF EXISTS status;
