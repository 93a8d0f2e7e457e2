-- courses.enrolled_count, kept exact by a trigger on every insert and delete of an
-- enrollment (cascades included), and never above capacity whatever the caller does.
-- The constraint is added NOT VALID here and validated by 0004, in its own transaction,
-- so that no long scan runs under this migration's lock on courses.
-- depends: 0002.create-student-courses
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE courses ADD COLUMN IF NOT EXISTS enrolled_count bigint NOT NULL DEFAULT 0;

UPDATE courses
SET enrolled_count = counted.n
FROM (SELECT course_id, count(*) AS n FROM student_courses GROUP BY course_id) AS counted
WHERE courses.id = counted.course_id;

ALTER TABLE courses
    ADD CONSTRAINT courses_enrolled_within_capacity
    CHECK (enrolled_count >= 0 AND (capacity IS NULL OR enrolled_count <= capacity)) NOT VALID;

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
