-- The enrollment of students in courses: deleting a student takes its enrollments with it,
-- deleting a course that still has students is refused.
-- depends: 0001.create-students-and-courses
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE TABLE IF NOT EXISTS student_courses (
    student_id bigint NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    course_id bigint NOT NULL REFERENCES courses (id) ON DELETE RESTRICT,
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (student_id, course_id)
);

-- The primary key serves student-to-courses lookups; this one serves course-to-students.
CREATE INDEX IF NOT EXISTS student_courses_course_id_student_id_idx
    ON student_courses (course_id, student_id);
