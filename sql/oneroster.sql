-- The OneRoster 1.2 read service's sources (API.md v1.3), one per OneRoster type: every row
-- in OneRoster's own column names, those of the records deleted within the feed's retention
-- included as `tobedeleted` with what they last looked like (the delete's `was`, migration
-- 0020; an older delete has only its key). service/oneroster/routes.py selects from a source
-- as `r`, adding the endpoint's scope, the caller's filter (bound values), the order and the
-- page. Text columns are never NULL (an absent value is ''), so that every order is total.

-- name: users
-- Students, as users with the role student. By "sourcedId", Postgres reads
-- students_sourced_id_idx (migration 0021): a page in that order needs no sort.
SELECT coalesce(s.external_id, 'student-' || s.id::text) AS "sourcedId",
       'active' AS status,
       s.updated_at AS "dateLastModified",
       'true' AS "enabledUser",
       s.first_name AS "givenName",
       s.last_name AS "familyName",
       s.email,
       s.id AS student_id
FROM students AS s
UNION ALL
SELECT coalesce(d.was ->> 'external_id', 'student-' || (d.key ->> 'id')),
       'tobedeleted',
       d.at,
       'true',
       coalesce(d.was ->> 'first_name', ''),
       coalesce(d.was ->> 'last_name', ''),
       coalesce(d.was ->> 'email', ''),
       (d.key ->> 'id')::bigint
FROM changes AS d
WHERE d.op = 'delete' AND d.entity = 'student' AND d.position IS NOT NULL;

-- name: courses
-- Courses, each both a OneRoster class and a OneRoster course (the mapping tells them apart).
SELECT coalesce(c.external_id, 'course-' || c.id::text) AS "sourcedId",
       'active' AS status,
       c.updated_at AS "dateLastModified",
       c.title,
       c.code,
       c.capacity,
       c.enrolled_count,
       c.waitlist_capacity,
       c.waitlisted_count,
       c.id AS course_id
FROM courses AS c
UNION ALL
SELECT coalesce(d.was ->> 'external_id', 'course-' || (d.key ->> 'id')),
       'tobedeleted',
       d.at,
       coalesce(d.was ->> 'title', ''),
       coalesce(d.was ->> 'code', ''),
       (d.was ->> 'capacity')::int,
       coalesce((d.was ->> 'enrolled_count')::int, 0),
       coalesce((d.was ->> 'waitlist_capacity')::int, 0),
       coalesce((d.was ->> 'waitlisted_count')::int, 0),
       (d.key ->> 'id')::bigint
FROM changes AS d
WHERE d.op = 'delete' AND d.entity = 'course' AND d.position IS NOT NULL;

-- name: enrollments
-- Pairs that hold or held a seat: enrolled and completed ones active, dropped ones
-- tobedeleted; a waitlisted pair (or one dropped from the waitlist) is not shown.
SELECT 'enrollment-' || sc.student_id::text || '-' || sc.course_id::text AS "sourcedId",
       CASE WHEN sc.status = 'dropped' THEN 'tobedeleted' ELSE 'active' END AS status,
       coalesce(sc.status_changed_at, sc.enrolled_at) AS "dateLastModified",
       'student' AS role,
       to_char(sc.enrolled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS "beginDate",
       CASE WHEN sc.status = 'completed'
            THEN to_char(sc.status_changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
            ELSE '' END AS "endDate",
       coalesce(s.external_id, 'student-' || s.id::text) AS user_sourced_id,
       coalesce(c.external_id, 'course-' || c.id::text) AS class_sourced_id,
       sc.student_id,
       sc.course_id
FROM student_courses AS sc
JOIN students AS s ON s.id = sc.student_id
JOIN courses AS c ON c.id = sc.course_id
WHERE sc.status <> 'waitlisted' AND sc.enrolled_at IS NOT NULL
UNION ALL
SELECT 'enrollment-' || (d.key ->> 'student_id') || '-' || (d.key ->> 'course_id'),
       'tobedeleted',
       d.at,
       'student',
       coalesce(left(d.was ->> 'enrolled_at', 10), ''),
       '',
       coalesce(s.external_id, 'student-' || (d.key ->> 'student_id')),
       coalesce(c.external_id, 'course-' || (d.key ->> 'course_id')),
       (d.key ->> 'student_id')::bigint,
       (d.key ->> 'course_id')::bigint
FROM changes AS d
LEFT JOIN students AS s ON s.id = (d.key ->> 'student_id')::bigint
LEFT JOIN courses AS c ON c.id = (d.key ->> 'course_id')::bigint
WHERE d.op = 'delete' AND d.entity = 'enrollment' AND d.position IS NOT NULL
      AND d.was ->> 'enrolled_at' IS NOT NULL;

-- name: orgs
-- The one school, from ONEROSTER_SCHOOL.
SELECT :sourced_id::text AS "sourcedId",
       'active'::text AS status,
       :modified::timestamptz AS "dateLastModified",
       :name::text AS name,
       'school'::text AS type,
       :identifier::text AS identifier;

-- name: academic-sessions
-- The one term, from ONEROSTER_TERM.
SELECT :sourced_id::text AS "sourcedId",
       'active'::text AS status,
       :modified::timestamptz AS "dateLastModified",
       :title::text AS title,
       'term'::text AS type,
       :start_date::text AS "startDate",
       :end_date::text AS "endDate",
       :school_year::text AS "schoolYear";
