-- Undoes 0013: the row-level triggers of 0006, 0008 and 0010 come back, as they were.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE OR REPLACE FUNCTION count_course_enrollment() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    seats int := 0;
    queue int := 0;
    course bigint := coalesce(NEW.course_id, OLD.course_id);
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        seats := seats + (NEW.status = 'enrolled')::int;
        queue := queue + (NEW.status = 'waitlisted')::int;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        seats := seats - (OLD.status = 'enrolled')::int;
        queue := queue - (OLD.status = 'waitlisted')::int;
    END IF;
    IF seats <> 0 OR queue <> 0 THEN
        UPDATE courses
        SET enrolled_count = enrolled_count + seats, waitlisted_count = waitlisted_count + queue
        WHERE id = course;
    END IF;
    IF seats < 0 THEN
        PERFORM promote_waitlisted(course);
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION record_enrollment_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    from_status text := CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END;
BEGIN
    INSERT INTO enrollment_events
        (student_id, course_id, at, action, from_status, to_status, actor, request_id, reason)
    VALUES (
        NEW.student_id, NEW.course_id, NEW.status_changed_at,
        CASE WHEN from_status = 'waitlisted' AND NEW.status = 'enrolled' THEN 'promoted'
             ELSE NEW.status END,
        from_status, NEW.status,
        coalesce(nullif(current_setting('enrollment.actor', true), ''), 'system'),
        nullif(current_setting('enrollment.request_id', true), ''),
        nullif(current_setting('enrollment.reason', true), '')
    );
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS student_courses_inserted ON student_courses;
DROP TRIGGER IF EXISTS student_courses_updated ON student_courses;
DROP TRIGGER IF EXISTS student_courses_deleted ON student_courses;
DROP FUNCTION IF EXISTS book_enrollments();

CREATE OR REPLACE TRIGGER student_courses_count
AFTER INSERT OR UPDATE OF status OR DELETE ON student_courses
FOR EACH ROW EXECUTE FUNCTION count_course_enrollment();

CREATE OR REPLACE TRIGGER student_courses_feed
AFTER INSERT OR UPDATE OR DELETE ON student_courses
FOR EACH ROW EXECUTE FUNCTION record_change('enrollment');

CREATE OR REPLACE TRIGGER student_courses_history
AFTER INSERT OR UPDATE OF status ON student_courses
FOR EACH ROW EXECUTE FUNCTION record_enrollment_event();
