-- name: insert-student
-- Creates a student; a taken email fails on students_email_key.
INSERT INTO students (first_name, last_name, email)
VALUES (:first_name, :last_name, :email)
RETURNING id, first_name, last_name, email, created_at, updated_at;

-- name: select-student-by-id
-- One student, or no row.
SELECT id, first_name, last_name, email, created_at, updated_at
FROM students
WHERE id = :student_id;

-- name: select-students
-- One page of students in id order, after the cursor's id.
SELECT id, first_name, last_name, email, created_at, updated_at
FROM students
WHERE id > :after_id
ORDER BY id
LIMIT :limit;

-- name: select-students-by-email
-- The page of students whose email matches ignoring case (one at most, by the unique index).
SELECT id, first_name, last_name, email, created_at, updated_at
FROM students
WHERE lower(email) = lower(:email) AND id > :after_id
ORDER BY id
LIMIT :limit;

-- name: update-student
-- Changes the fields given (a NULL keeps the old value); no row when the student is unknown.
UPDATE students
SET first_name = coalesce(:first_name, first_name),
    last_name = coalesce(:last_name, last_name),
    email = coalesce(:email, email),
    updated_at = now()
WHERE id = :student_id
RETURNING id, first_name, last_name, email, created_at, updated_at;

-- name: delete-student
-- Deletes a student; its enrollments cascade and their trigger frees the seats.
DELETE FROM students
WHERE id = :student_id
RETURNING id;

-- name: select-student-with-courses-json
-- The whole GET /students/{id} body, built by Postgres in one round trip: the student and
-- every course it is enrolled in (course id order), or no row.
SELECT json_build_object(
    'id', s.id,
    'first_name', s.first_name,
    'last_name', s.last_name,
    'email', s.email,
    'created_at', api_timestamp(s.created_at),
    'updated_at', api_timestamp(s.updated_at),
    'courses', coalesce(
        (SELECT json_agg(json_build_object(
                    'id', c.id,
                    'code', c.code,
                    'title', c.title,
                    'capacity', c.capacity,
                    'enrolled_count', c.enrolled_count,
                    'created_at', api_timestamp(c.created_at),
                    'updated_at', api_timestamp(c.updated_at),
                    'enrolled_at', api_timestamp(sc.enrolled_at)
                ) ORDER BY sc.course_id)
         FROM student_courses AS sc
         JOIN courses AS c ON c.id = sc.course_id
         WHERE sc.student_id = s.id),
        '[]'::json
    )
)::text
FROM students AS s
WHERE s.id = :student_id;
