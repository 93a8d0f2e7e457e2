-- name: insert-course
-- Creates a course; a taken code fails on courses_code_key.
INSERT INTO courses (code, title, capacity, waitlist_capacity)
VALUES (:code, :title, :capacity, :waitlist_capacity)
RETURNING id, code, title, capacity, enrolled_count, waitlist_capacity, waitlisted_count,
          created_at, updated_at;

-- name: select-course-by-id
-- One course, or no row.
SELECT id, code, title, capacity, enrolled_count, waitlist_capacity, waitlisted_count,
       created_at, updated_at
FROM courses
WHERE id = :course_id;

-- name: select-courses
-- One page of courses in id order, after the cursor's id.
SELECT id, code, title, capacity, enrolled_count, waitlist_capacity, waitlisted_count,
       created_at, updated_at
FROM courses
WHERE id > :after_id
ORDER BY id
LIMIT :limit;

-- name: select-courses-by-code
-- The page of courses whose code matches ignoring case (one at most, by the unique index).
SELECT id, code, title, capacity, enrolled_count, waitlist_capacity, waitlisted_count,
       created_at, updated_at
FROM courses
WHERE lower(code) = lower(:code) AND id > :after_id
ORDER BY id
LIMIT :limit;

-- name: update-course
-- Changes the fields given; capacity changes only when :set_capacity, since NULL means no limit.
-- A capacity below enrolled_count fails on courses_enrolled_within_capacity, a
-- waitlist_capacity below waitlisted_count on courses_waitlisted_within_capacity. A raised
-- capacity promotes from the waitlist (migrations/0010), after RETURNING has read the row:
-- hence the id alone, and the course read again.
UPDATE courses
SET code = coalesce(:code, code),
    title = coalesce(:title, title),
    capacity = CASE WHEN :set_capacity THEN :capacity ELSE capacity END,
    waitlist_capacity = coalesce(:waitlist_capacity, waitlist_capacity),
    updated_at = now()
WHERE id = :course_id
RETURNING id;

-- name: delete-course
-- Deletes a course with its dropped and completed records (their history cascades); one
-- with students enrolled or waitlisted fails on student_courses_course_id_fkey, which
-- Postgres checks at the end of the statement against every committed row.
WITH past AS (
    DELETE FROM student_courses
    WHERE course_id = :course_id AND status IN ('dropped', 'completed')
)
DELETE FROM courses
WHERE id = :course_id
RETURNING id;

-- name: lock-course
-- The course, its row locked until the transaction ends; no row when unknown.
SELECT id, code, title, capacity, enrolled_count, waitlist_capacity, waitlisted_count,
       created_at, updated_at
FROM courses
WHERE id = :course_id
FOR UPDATE;
