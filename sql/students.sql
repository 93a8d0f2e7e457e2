-- name: insert-student
-- Creates a student; a taken email fails on students_email_key, a taken external id on
-- students_external_id_key.
INSERT INTO students (first_name, last_name, email, external_id)
VALUES (:first_name, :last_name, :email, :external_id)
RETURNING id, first_name, last_name, email, external_id, created_at, updated_at;

-- name: select-student-by-id
-- One student, or no row.
SELECT id, first_name, last_name, email, external_id, created_at, updated_at
FROM students
WHERE id = :student_id;

-- name: select-students
-- One page of students in id order, after the cursor's id.
SELECT id, first_name, last_name, email, external_id, created_at, updated_at
FROM students
WHERE id > :after_id
ORDER BY id
LIMIT :limit;

-- name: select-students-by-email
-- The page of students whose email matches ignoring case (one at most, by the unique index).
SELECT id, first_name, last_name, email, external_id, created_at, updated_at
FROM students
WHERE lower(email) = lower(:email) AND id > :after_id
ORDER BY id
LIMIT :limit;

-- name: select-students-by-external-id
-- The page of students with this external id (one at most, by the unique index), and the
-- email filter too when given.
SELECT id, first_name, last_name, email, external_id, created_at, updated_at
FROM students
WHERE external_id = :external_id AND id > :after_id
      AND (:email::text IS NULL OR lower(email) = lower(:email))
ORDER BY id
LIMIT :limit;

-- name: lock-student-external-id
-- Until the transaction ends, no other write setting this external id runs (a create, a
-- change or an upsert): concurrent PUTs of one new external id create it once, and a PUT
-- racing a POST or PATCH of the id finds its row. The lock is on the id's hash within the
-- class :lock_class (service/repositories/locks.py), so at worst two ids share one.
SELECT pg_advisory_xact_lock(:lock_class, hashtext(:external_id));

-- name: select-student-by-external-id
-- The student with this external id, its row locked until the transaction ends; no row
-- when there is none.
SELECT id, first_name, last_name, email, external_id, created_at, updated_at
FROM students
WHERE external_id = :external_id
FOR UPDATE;

-- name: update-student
-- Changes the fields given (a NULL keeps the old value); external_id changes only when
-- :set_external_id, since NULL clears it. No row when the student is unknown.
UPDATE students
SET first_name = coalesce(:first_name, first_name),
    last_name = coalesce(:last_name, last_name),
    email = coalesce(:email, email),
    external_id = CASE WHEN :set_external_id THEN :external_id ELSE external_id END,
    updated_at = now()
WHERE id = :student_id
RETURNING id, first_name, last_name, email, external_id, created_at, updated_at;

-- name: delete-student
-- Deletes a student; its enrollments cascade and their trigger frees the seats.
DELETE FROM students
WHERE id = :student_id
RETURNING id;

-- name: select-student-with-courses
-- The student and every course it is enrolled in or waitlisted for, one row per course in course id order
-- (course columns NULL when there is none), in one round trip; no row when unknown.
-- Each course is fetched by its key, one enrollment at a time: as a plain join, the planner
-- chose to hash the whole courses table on every call, and the statement took 1.8x as long
-- (README "Performance"). LIMIT 1 keeps the subquery from being folded back into a join.
-- waitlist_position() is called only for a waitlisted pair: a call costs more than the
-- rest of the row.
SELECT s.id, s.first_name, s.last_name, s.email, s.external_id, s.created_at, s.updated_at,
       c.id AS course_id, c.code, c.title, c.capacity, c.enrolled_count, c.waitlist_capacity,
       c.waitlisted_count, c.external_id AS course_external_id,
       c.created_at AS course_created_at,
       c.updated_at AS course_updated_at, sc.enrolled_at, sc.status,
       coalesce(sc.status_changed_at, sc.enrolled_at) AS status_changed_at,
       CASE WHEN sc.waitlist_ticket IS NOT NULL
            THEN waitlist_position(sc.course_id, sc.waitlist_ticket) END AS waitlist_position
FROM students AS s
LEFT JOIN student_courses AS sc
    ON sc.student_id = s.id AND sc.status IN ('enrolled', 'waitlisted')
LEFT JOIN LATERAL (
    SELECT id, code, title, capacity, enrolled_count, waitlist_capacity, waitlisted_count,
           external_id, created_at, updated_at
    FROM courses
    WHERE id = sc.course_id
    LIMIT 1
) AS c ON true
WHERE s.id = :student_id
ORDER BY sc.course_id;

-- name: lock-student
-- Locks the student's row until the transaction ends (against a concurrent change of it or
-- of its enrollments, which lock it FOR KEY SHARE); no row when unknown.
SELECT id FROM students WHERE id = :student_id FOR UPDATE;
