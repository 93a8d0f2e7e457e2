-- courses.enrolled_count, kept exact by a trigger on every insert and delete of an
-- enrollment (cascades included), and never above capacity whatever the caller does.
-- depends: 0002.create-student-courses
ALTER TABLE courses ADD COLUMN enrolled_count integer NOT NULL DEFAULT 0;

UPDATE courses
SET enrolled_count = counted.n
FROM (SELECT course_id, count(*) AS n FROM student_courses GROUP BY course_id) AS counted
WHERE courses.id = counted.course_id;

ALTER TABLE courses
    ADD CONSTRAINT courses_enrolled_within_capacity
    CHECK (enrolled_count >= 0 AND (capacity IS NULL OR enrolled_count <= capacity));

CREATE FUNCTION count_course_enrollment() RETURNS trigger
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

CREATE TRIGGER student_courses_count
AFTER INSERT OR DELETE ON student_courses
FOR EACH ROW EXECUTE FUNCTION count_course_enrollment();
