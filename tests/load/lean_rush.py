"""The lean reference for the registration rush (issue 37): the enrollment a PUT makes, as
one statement with writable CTEs and no triggers, on a copy of the rush courses in a schema
of its own (`lean`), so that the service's rows and triggers are left alone.

It writes what contract v1.1 makes every enrollment write: the pair, the course's count, a
history event with actor and request id, and the change feed's enrollment and course rows
(unsequenced: the service's feed numbers only its own). A seat is taken only under the
course's row lock; a refusal (full, or already held) is answered from the statement's
snapshot without a lock, as the service's `enroll` does. The reference app
(tests/load/reference.py) answers with the service's shapes: 201 or 202 with the view, 200
when held, 409 as a problem, and logs one line per attempt as the contract asks."""

import psycopg

from tests.load.seed import Dataset

SCHEMA = "lean"  # spelled out in the statements below

# The rush courses copied, and empty tables like the service's (indexes, checks, identity
# and defaults included, foreign keys added); no trigger is copied. One statement each.
COPY = (
    "DROP SCHEMA IF EXISTS lean CASCADE",
    "CREATE SCHEMA lean",
    "CREATE TABLE lean.courses (LIKE public.courses INCLUDING ALL)",
    "INSERT INTO lean.courses OVERRIDING SYSTEM VALUE"
    " SELECT * FROM public.courses WHERE id = ANY(%(course_ids)s)",
    "CREATE TABLE lean.student_courses (LIKE public.student_courses INCLUDING ALL)",
    "ALTER TABLE lean.student_courses"
    " ADD FOREIGN KEY (student_id) REFERENCES public.students (id) ON DELETE CASCADE,"
    " ADD FOREIGN KEY (course_id) REFERENCES lean.courses (id) ON DELETE RESTRICT",
    "CREATE TABLE lean.enrollment_events (LIKE public.enrollment_events INCLUDING ALL)",
    "ALTER TABLE lean.enrollment_events ADD FOREIGN KEY (student_id, course_id)"
    " REFERENCES lean.student_courses (student_id, course_id) ON DELETE CASCADE",
    "CREATE TABLE lean.changes (LIKE public.changes INCLUDING ALL)",
    "ANALYZE lean.courses",
)

# $1 student, $2 course, $3 actor, $4 request id. One row: the pair's view and `outcome`
# (added, held or full); no row when the student or the course is unknown.
ENROLL = """
WITH seen AS (
    SELECT c.id, c.code, c.title, c.capacity, c.enrolled_count, c.waitlist_capacity,
           c.waitlisted_count, c.external_id, c.created_at, c.updated_at,
           sc.enrolled_at, sc.status,
           coalesce(sc.status_changed_at, sc.enrolled_at) AS status_changed_at,
           c.capacity IS NOT NULL AND c.enrolled_count >= c.capacity AS is_full,
           c.waitlisted_count >= c.waitlist_capacity AS queue_full
    FROM lean.courses AS c
    LEFT JOIN lean.student_courses AS sc
        ON sc.student_id = $1 AND sc.course_id = c.id
           AND sc.status IN ('enrolled', 'waitlisted')
    WHERE c.id = $2 AND EXISTS (SELECT FROM public.students WHERE id = $1)
),
locked AS (
    -- Read again at its newest version once locked: a seat or a place still there.
    SELECT c.id, c.capacity IS NOT NULL AND c.enrolled_count >= c.capacity AS is_full
    FROM lean.courses AS c
    WHERE c.id = $2
      AND EXISTS (SELECT FROM seen WHERE status IS NULL AND (NOT is_full OR NOT queue_full))
      AND (c.capacity IS NULL OR c.enrolled_count < c.capacity
           OR c.waitlisted_count < c.waitlist_capacity)
    FOR UPDATE
),
added AS (
    INSERT INTO lean.student_courses
        (student_id, course_id, status, enrolled_at, waitlist_ticket)
    SELECT $1, id, CASE WHEN is_full THEN 'waitlisted' ELSE 'enrolled' END,
           CASE WHEN is_full THEN NULL ELSE now() END,
           CASE WHEN is_full THEN nextval('waitlist_tickets') END
    FROM locked
    ON CONFLICT (student_id, course_id) DO NOTHING
    RETURNING student_id, course_id, status, enrolled_at, status_changed_at
),
counted AS (
    UPDATE lean.courses AS c
    SET enrolled_count = c.enrolled_count + (a.status = 'enrolled')::int,
        waitlisted_count = c.waitlisted_count + (a.status = 'waitlisted')::int
    FROM added AS a
    WHERE c.id = a.course_id
    RETURNING c.id, c.code, c.title, c.capacity, c.enrolled_count, c.waitlist_capacity,
              c.waitlisted_count, c.external_id, c.created_at, c.updated_at
),
history AS (
    INSERT INTO lean.enrollment_events
        (student_id, course_id, at, action, to_status, actor, request_id)
    SELECT student_id, course_id, status_changed_at, status, status, $3, $4
    FROM added
),
feed AS (
    INSERT INTO lean.changes (entity, op, key, data)
    SELECT 'enrollment', 'upsert',
           json_build_object('student_id', a.student_id, 'course_id', a.course_id),
           json_build_object(
               'student_id', a.student_id, 'course_id', a.course_id, 'status', a.status,
               'enrolled_at', api_timestamp(a.enrolled_at),
               'status_changed_at', api_timestamp(coalesce(a.status_changed_at, a.enrolled_at)))
    FROM added AS a
    UNION ALL
    SELECT 'course', 'upsert', json_build_object('id', c.id),
           json_build_object(
               'id', c.id, 'code', c.code, 'title', c.title, 'capacity', c.capacity,
               'enrolled_count', c.enrolled_count, 'waitlist_capacity', c.waitlist_capacity,
               'waitlisted_count', c.waitlisted_count, 'external_id', c.external_id,
               'created_at', api_timestamp(c.created_at),
               'updated_at', api_timestamp(c.updated_at))
    FROM counted AS c
)
SELECT c.id, c.code, c.title, c.capacity, c.enrolled_count, c.waitlist_capacity,
       c.waitlisted_count, c.external_id, c.created_at, c.updated_at, a.enrolled_at, a.status,
       coalesce(a.status_changed_at, a.enrolled_at) AS status_changed_at,
       CASE WHEN a.status = 'waitlisted' THEN c.waitlisted_count END AS waitlist_position,
       'added' AS outcome
FROM added AS a JOIN counted AS c ON c.id = a.course_id
UNION ALL
SELECT s.id, s.code, s.title, s.capacity, s.enrolled_count, s.waitlist_capacity,
       s.waitlisted_count, s.external_id, s.created_at, s.updated_at, s.enrolled_at, s.status,
       s.status_changed_at, NULL, CASE WHEN s.status IS NULL THEN 'full' ELSE 'held' END
FROM seen AS s
WHERE NOT EXISTS (SELECT FROM added)
"""


def make_copy(url: str, data: Dataset) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in COPY:
            named = {"course_ids": data.every_rush_course_id} if "%(" in statement else None
            conn.execute(statement, named)


def empty(url: str, data: Dataset) -> None:
    """Every rush course as the copy began: no pair, no count (no trigger keeps them here)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM lean.student_courses")
        conn.execute("UPDATE lean.courses SET enrolled_count = 0, waitlisted_count = 0")
