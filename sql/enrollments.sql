-- name: lock-student
-- The student's row, held against a concurrent delete until the transaction ends.
SELECT id
FROM students
WHERE id = :student_id
FOR KEY SHARE;

-- name: lock-courses
-- The courses asked for, locked in id order so concurrent enrollments cannot deadlock,
-- each with whether it is full and whether the student already holds a seat in it.
SELECT c.id,
       c.capacity IS NOT NULL AND c.enrolled_count >= c.capacity AS is_full,
       EXISTS (
           SELECT 1 FROM student_courses AS sc
           WHERE sc.student_id = :student_id AND sc.course_id = c.id
       ) AS is_enrolled
FROM courses AS c
WHERE c.id = ANY(:course_ids::bigint[])
ORDER BY c.id
FOR UPDATE OF c;

-- name: insert-enrollments
-- Enrolls the student in each course; the trigger counts the seats. A pair that already
-- exists is skipped, so the caller sees which rows were really added.
INSERT INTO student_courses (student_id, course_id)
SELECT :student_id, course_id
FROM unnest(:course_ids::bigint[]) AS course_id
ORDER BY course_id
ON CONFLICT (student_id, course_id) DO NOTHING
RETURNING course_id;

-- name: select-enrollments
-- The given courses as the student sees them, with when the student enrolled.
SELECT c.id, c.code, c.title, c.capacity, c.enrolled_count, c.created_at, c.updated_at,
       sc.enrolled_at
FROM student_courses AS sc
JOIN courses AS c ON c.id = sc.course_id
WHERE sc.student_id = :student_id AND sc.course_id = ANY(:course_ids::bigint[])
ORDER BY c.id;

-- name: select-student-courses
-- One page of the student's courses in course id order, after the cursor's id, in one
-- round trip: no row when the student is unknown, one row of NULLs when the page is empty.
SELECT page.id, page.code, page.title, page.capacity, page.enrolled_count,
       page.created_at, page.updated_at, page.enrolled_at
FROM students AS s
LEFT JOIN LATERAL (
    SELECT c.id, c.code, c.title, c.capacity, c.enrolled_count, c.created_at, c.updated_at,
           sc.enrolled_at
    FROM student_courses AS sc
    JOIN courses AS c ON c.id = sc.course_id
    WHERE sc.student_id = s.id AND sc.course_id > :after_id
    ORDER BY sc.course_id
    LIMIT :limit
) AS page ON true
WHERE s.id = :student_id
ORDER BY page.id;

-- name: select-course-students
-- One page of the course's students in student id order, after the cursor's id, in one
-- round trip: no row when the course is unknown, one row of NULLs when the page is empty.
SELECT page.id, page.first_name, page.last_name, page.email, page.created_at,
       page.updated_at, page.enrolled_at
FROM courses AS c
LEFT JOIN LATERAL (
    SELECT s.id, s.first_name, s.last_name, s.email, s.created_at, s.updated_at,
           sc.enrolled_at
    FROM student_courses AS sc
    JOIN students AS s ON s.id = sc.student_id
    WHERE sc.course_id = c.id AND sc.student_id > :after_id
    ORDER BY sc.student_id
    LIMIT :limit
) AS page ON true
WHERE c.id = :course_id
ORDER BY page.id;

-- name: delete-enrollment
-- Unenrolls the student from the course; the trigger frees the seat. No row when not enrolled.
DELETE FROM student_courses
WHERE student_id = :student_id AND course_id = :course_id
RETURNING course_id;

-- name: select-student-exists
-- Whether the student exists, without locking it.
SELECT EXISTS (SELECT 1 FROM students WHERE id = :student_id);
