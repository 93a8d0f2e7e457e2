-- name: insert-course
-- Creates a course; a taken code fails on courses_code_key, a taken external id on
-- courses_external_id_key.
INSERT INTO courses (code, title, capacity, waitlist_capacity, external_id)
VALUES (:code, :title, :capacity, :waitlist_capacity, :external_id)
RETURNING id, code, title, capacity, enrolled_count, waitlist_capacity, waitlisted_count,
          external_id, created_at, updated_at;

-- name: select-course-by-id
-- One course, or no row.
SELECT id, code, title, capacity, enrolled_count, waitlist_capacity, waitlisted_count,
       external_id, created_at, updated_at
FROM courses
WHERE id = :course_id;

-- name: select-courses
-- One page of courses in id order, after the cursor's id.
SELECT id, code, title, capacity, enrolled_count, waitlist_capacity, waitlisted_count,
       external_id, created_at, updated_at
FROM courses
WHERE id > :after_id
ORDER BY id
LIMIT :limit;

-- name: select-courses-by-code
-- The page of courses whose code matches ignoring case (one at most, by the unique index).
SELECT id, code, title, capacity, enrolled_count, waitlist_capacity, waitlisted_count,
       external_id, created_at, updated_at
FROM courses
WHERE lower(code) = lower(:code) AND id > :after_id
ORDER BY id
LIMIT :limit;

-- name: select-courses-by-external-id
-- The page of courses with this external id (one at most, by the unique index), and the
-- code filter too when given.
SELECT id, code, title, capacity, enrolled_count, waitlist_capacity, waitlisted_count,
       external_id, created_at, updated_at
FROM courses
WHERE external_id = :external_id AND id > :after_id
      AND (:code::text IS NULL OR lower(code) = lower(:code))
ORDER BY id
LIMIT :limit;

-- name: lock-course-external-id
-- Until the transaction ends, no other write setting this external id runs (a create, a
-- change or an upsert): concurrent PUTs of one new external id create it once, and a PUT
-- racing a POST or PATCH of the id finds its row. The lock is on the id's hash within the
-- class :lock_class (service/repositories/locks.py), so at worst two ids share one.
SELECT pg_advisory_xact_lock(:lock_class, hashtext(:external_id));

-- name: select-course-by-external-id
-- The course with this external id, its row locked until the transaction ends; no row when
-- there is none.
SELECT id, code, title, capacity, enrolled_count, waitlist_capacity, waitlisted_count,
       external_id, created_at, updated_at
FROM courses
WHERE external_id = :external_id
FOR UPDATE;

-- name: update-course
-- Changes the fields given; capacity changes only when :set_capacity, since NULL means no
-- limit, and external_id only when :set_external_id, since NULL clears it.
-- A capacity below enrolled_count fails on courses_enrolled_within_capacity, a
-- waitlist_capacity below waitlisted_count on courses_waitlisted_within_capacity. A raised
-- capacity promotes from the waitlist (migrations/0010), after RETURNING has read the row:
-- hence the id alone, and the course read again.
UPDATE courses
SET code = coalesce(:code, code),
    title = coalesce(:title, title),
    capacity = CASE WHEN :set_capacity THEN :capacity ELSE capacity END,
    waitlist_capacity = coalesce(:waitlist_capacity, waitlist_capacity),
    external_id = CASE WHEN :set_external_id THEN :external_id ELSE external_id END,
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
       external_id, created_at, updated_at
FROM courses
WHERE id = :course_id
FOR UPDATE;
