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
