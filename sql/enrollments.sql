-- name: enroll
-- The whole enrollment in one statement, so it commits in the round trip that runs it and
-- no lock is ever held while the service thinks.
-- First, without a lock, the statement's snapshot decides whether a seat is worth trying
-- for: the student known, every course known, not yet held and not full. If not, the
-- answer is read from that snapshot (`seen`): the refusal was true at that instant, during
-- the request, and it writes nothing and waits for no one. In a rush on a full course
-- nearly every request is such a refusal; under the lock each would queue on the course's
-- row and commit a write (a row lock is one) with its WAL flush.
-- Else: lock the student (against a concurrent delete), lock the courses asked for in id
-- order (so concurrent enrollments cannot deadlock), and take a seat in every one of them
-- only if each is still known, not held and not full. Under READ COMMITTED a row that
-- FOR UPDATE had to wait for is read again at its newest version, so `is_full` sees every
-- seat taken before the lock was granted. lock_timeout is set in the student's WHERE
-- clause: conditions are checked before a row is locked, and the courses are locked only
-- after the student. A pair enrolled by a concurrent request after this statement's
-- snapshot meets its row in ON CONFLICT, and moving it from enrolled to enrolled fails the
-- transition trigger (migrations/0006), which undoes the whole statement. A dropped or
-- completed pair is enrolled again by that same ON CONFLICT. The trigger's +1 is not
-- visible here, hence `enrolled_count + 1`. Who asks (:actor, :request_id) is set for the
-- history trigger beside lock_timeout.
-- A course found full only under the lock was filled after the snapshot, perhaps by this
-- same pair (`under_lock` says so): the service runs the statement again to tell which.
-- No row when the student is unknown; one row of NULLs when no course is.
-- `seen` looks each course up by its key: a rush runs it for every request. With
-- `c.id = ANY(...)` Postgres read the whole courses table: the plan a prepared statement
-- keeps cannot know the array's length, prices it as ten index lookups, and scanning a
-- table of a few hundred rows costs less. A LATERAL lookup per id (LIMIT 1 keeps Postgres
-- from turning it back into a join) was planned afresh on every call instead, as a fresh
-- plan does know the length; `(SELECT ...)` hides the length from every plan alike.
WITH seen AS (
    SELECT c.id, c.code, c.title, c.capacity, c.enrolled_count, c.waitlist_capacity,
           c.waitlisted_count, c.external_id, c.created_at, c.updated_at,
           sc.enrolled_at, sc.status,
           coalesce(sc.status_changed_at, sc.enrolled_at) AS status_changed_at,
           CASE WHEN sc.waitlist_ticket IS NOT NULL
                THEN waitlist_position(sc.course_id, sc.waitlist_ticket) END AS waitlist_position,
           c.capacity IS NOT NULL AND c.enrolled_count >= c.capacity AS is_full,
           c.waitlisted_count >= c.waitlist_capacity AS queue_full
    FROM unnest((SELECT :course_ids::bigint[])) AS asked (id)
    JOIN LATERAL (
        SELECT id, code, title, capacity, enrolled_count, waitlist_capacity, waitlisted_count,
               external_id, created_at, updated_at
        FROM courses
        WHERE id = asked.id
        LIMIT 1
    ) AS c ON true
    LEFT JOIN student_courses AS sc
        ON sc.student_id = :student_id AND sc.course_id = c.id
           AND sc.status IN ('enrolled', 'waitlisted')
),
worth_locking AS (
    SELECT EXISTS (SELECT FROM students WHERE id = :student_id)
           AND count(*) = cardinality(:course_ids::bigint[])
           AND coalesce(
               bool_and(status IS NULL AND (NOT is_full OR (:waitlist AND NOT queue_full))),
               false) AS yes
    FROM seen
),
student AS (
    SELECT id
    FROM students
    WHERE id = :student_id AND (SELECT yes FROM worth_locking)
          AND set_config('lock_timeout', :lock_timeout, true) <> ''
          AND set_change_context(:actor, :request_id, NULL)
    FOR KEY SHARE
),
locked AS (
    SELECT c.id, c.code, c.title, c.capacity, c.enrolled_count, c.waitlist_capacity,
           c.waitlisted_count, c.external_id, c.created_at, c.updated_at,
           sc.enrolled_at, sc.status,
           coalesce(sc.status_changed_at, sc.enrolled_at) AS status_changed_at,
           CASE WHEN sc.waitlist_ticket IS NOT NULL
                THEN waitlist_position(sc.course_id, sc.waitlist_ticket) END AS waitlist_position,
           c.capacity IS NOT NULL AND c.enrolled_count >= c.capacity AS is_full,
           c.waitlisted_count >= c.waitlist_capacity AS queue_full
    FROM courses AS c
    LEFT JOIN student_courses AS sc
        ON sc.student_id = :student_id AND sc.course_id = c.id
           AND sc.status IN ('enrolled', 'waitlisted')
    WHERE c.id = ANY(:course_ids::bigint[]) AND EXISTS (SELECT FROM student)
    ORDER BY c.id
    FOR UPDATE OF c
),
verdict AS (
    SELECT count(*) = cardinality(:course_ids::bigint[])
           AND bool_and(status IS NULL AND (NOT is_full OR (:waitlist AND NOT queue_full)))
           AS can_enroll
    FROM locked
),
added AS (
    INSERT INTO student_courses (student_id, course_id, status)
    SELECT :student_id, id, CASE WHEN is_full THEN 'waitlisted' ELSE 'enrolled' END
    FROM locked
    WHERE (SELECT can_enroll FROM verdict)
    ORDER BY id
    ON CONFLICT (student_id, course_id) DO UPDATE SET status = excluded.status
    RETURNING course_id, enrolled_at, status, status_changed_at
)
SELECT l.id, l.code, l.title, l.capacity,
       l.enrolled_count + (a.status = 'enrolled')::int AS enrolled_count,
       l.waitlist_capacity,
       l.waitlisted_count + (a.status = 'waitlisted')::int AS waitlisted_count,
       l.external_id, l.created_at, l.updated_at,
       coalesce(a.enrolled_at, l.enrolled_at) AS enrolled_at,
       coalesce(a.status, l.status) AS status,
       coalesce(a.status_changed_at, l.status_changed_at) AS status_changed_at,
       CASE WHEN a.status = 'waitlisted' THEN l.waitlisted_count + 1
            WHEN a.status IS NULL THEN l.waitlist_position END AS waitlist_position,
       l.status IS NOT NULL AS was_held,
       l.is_full,
       l.queue_full,
       true AS under_lock
FROM student AS s
LEFT JOIN (locked AS l LEFT JOIN added AS a ON a.course_id = l.id) ON true
UNION ALL
SELECT v.id, v.code, v.title, v.capacity, v.enrolled_count, v.waitlist_capacity,
       v.waitlisted_count, v.external_id, v.created_at, v.updated_at, v.enrolled_at, v.status,
       v.status_changed_at, v.waitlist_position, v.status IS NOT NULL, v.is_full, v.queue_full,
       false
FROM students AS s
LEFT JOIN seen AS v ON true
WHERE s.id = :student_id AND NOT (SELECT yes FROM worth_locking)
ORDER BY id;

-- name: look-before-enrolling
-- What `enroll` would answer for one course from its snapshot, in its row shape, and writes
-- nothing: a PUT runs it first for a course its worker found full lately
-- (repositories/enrollments.py FullCourses). `enroll` holds a data-modifying CTE, and a
-- statement fires the enrollments' statement triggers whenever it runs one, rows or none
-- (a fifth of its rate in a rush of refusals); this one fires none.
-- No row when the student is unknown; course columns NULL when the course is.
SELECT c.id, c.code, c.title, c.capacity, c.enrolled_count, c.waitlist_capacity,
       c.waitlisted_count, c.external_id, c.created_at, c.updated_at,
       sc.enrolled_at, sc.status,
       coalesce(sc.status_changed_at, sc.enrolled_at) AS status_changed_at,
       CASE WHEN sc.waitlist_ticket IS NOT NULL
            THEN waitlist_position(sc.course_id, sc.waitlist_ticket) END AS waitlist_position,
       sc.status IS NOT NULL AS was_held,
       c.capacity IS NOT NULL AND c.enrolled_count >= c.capacity AS is_full,
       c.waitlisted_count >= c.waitlist_capacity AS queue_full,
       false AS under_lock
FROM students AS s
LEFT JOIN courses AS c ON c.id = :course_id
LEFT JOIN student_courses AS sc
    ON sc.student_id = s.id AND sc.course_id = c.id AND sc.status IN ('enrolled', 'waitlisted')
WHERE s.id = :student_id;

-- name: select-student-courses
-- One page of the student's courses with a status in :statuses, in course id order, after
-- the cursor's id, in one round trip: no row when the student is unknown, one row of NULLs
-- when the page is empty.
SELECT page.id, page.code, page.title, page.capacity, page.enrolled_count,
       page.waitlist_capacity, page.waitlisted_count, page.external_id, page.created_at,
       page.updated_at,
       page.enrolled_at, page.status, page.status_changed_at, page.waitlist_position
FROM students AS s
LEFT JOIN LATERAL (
    SELECT c.id, c.code, c.title, c.capacity, c.enrolled_count, c.waitlist_capacity,
           c.waitlisted_count, c.external_id, c.created_at, c.updated_at, sc.enrolled_at, sc.status,
           coalesce(sc.status_changed_at, sc.enrolled_at) AS status_changed_at,
           CASE WHEN sc.waitlist_ticket IS NOT NULL
                THEN waitlist_position(sc.course_id, sc.waitlist_ticket) END AS waitlist_position
    FROM student_courses AS sc
    JOIN courses AS c ON c.id = sc.course_id
    WHERE sc.student_id = s.id AND sc.course_id > :after_id
          AND sc.status = ANY(:statuses::text[])
    ORDER BY sc.course_id
    LIMIT :limit
) AS page ON true
WHERE s.id = :student_id
ORDER BY page.id;

-- name: select-course-students
-- One page of the course's students with a status in :statuses, in student id order, after
-- the cursor's id, in one round trip: no row when the course is unknown, one row of NULLs
-- when the page is empty.
SELECT page.id, page.first_name, page.last_name, page.email, page.external_id,
       page.created_at, page.updated_at, page.enrolled_at, page.status, page.status_changed_at,
       page.waitlist_position
FROM courses AS c
LEFT JOIN LATERAL (
    SELECT s.id, s.first_name, s.last_name, s.email, s.external_id, s.created_at, s.updated_at,
           sc.enrolled_at, sc.status,
           coalesce(sc.status_changed_at, sc.enrolled_at) AS status_changed_at,
           CASE WHEN sc.waitlist_ticket IS NOT NULL
                THEN waitlist_position(sc.course_id, sc.waitlist_ticket) END AS waitlist_position
    FROM student_courses AS sc
    JOIN students AS s ON s.id = sc.student_id
    WHERE sc.course_id = c.id AND sc.student_id > :after_id
          AND sc.status = ANY(:statuses::text[])
    ORDER BY sc.student_id
    LIMIT :limit
) AS page ON true
WHERE c.id = :course_id
ORDER BY page.id;

-- name: select-course-queue
-- One page of the course's waitlist in queue order, after the cursor's ticket, in one round
-- trip: no row when the course is unknown, one row of NULLs when the page is empty.
SELECT page.id, page.first_name, page.last_name, page.email, page.external_id,
       page.created_at, page.updated_at, page.enrolled_at, page.status, page.status_changed_at,
       page.waitlist_position, page.waitlist_ticket
FROM courses AS c
LEFT JOIN LATERAL (
    SELECT s.id, s.first_name, s.last_name, s.email, s.external_id, s.created_at, s.updated_at,
           sc.enrolled_at, sc.status,
           coalesce(sc.status_changed_at, sc.enrolled_at) AS status_changed_at,
           CASE WHEN sc.waitlist_ticket IS NOT NULL
                THEN waitlist_position(sc.course_id, sc.waitlist_ticket) END AS waitlist_position,
           sc.waitlist_ticket
    FROM student_courses AS sc
    JOIN students AS s ON s.id = sc.student_id
    WHERE sc.course_id = c.id AND sc.status = 'waitlisted' AND sc.waitlist_ticket > :after_ticket
    ORDER BY sc.waitlist_ticket
    LIMIT :limit
) AS page ON true
WHERE c.id = :course_id
ORDER BY page.waitlist_ticket;

-- name: set-change-context
-- Who makes the enrollment change this transaction is about to make, and why, for the
-- history trigger (sql/schema/change_context.sql).
SELECT set_change_context(:actor, :request_id, :reason);

-- name: change-enrollment-status
-- Moves the pair to :status if it is in one of :from_statuses; the triggers stamp the time,
-- write the event and free the seat. No row when the pair is unknown or in another status.
UPDATE student_courses
SET status = :status
WHERE student_id = :student_id AND course_id = :course_id
      AND status = ANY(:from_statuses::text[])
RETURNING status;

-- name: select-enrollment
-- The pair's enrollment view, whatever its status, or no row when it has never existed.
SELECT c.id, c.code, c.title, c.capacity, c.enrolled_count, c.waitlist_capacity,
       c.waitlisted_count, c.external_id, c.created_at, c.updated_at, sc.enrolled_at, sc.status,
       coalesce(sc.status_changed_at, sc.enrolled_at) AS status_changed_at,
       CASE WHEN sc.waitlist_ticket IS NOT NULL
            THEN waitlist_position(sc.course_id, sc.waitlist_ticket) END AS waitlist_position
FROM student_courses AS sc
JOIN courses AS c ON c.id = sc.course_id
WHERE sc.student_id = :student_id AND sc.course_id = :course_id;

-- name: select-enrollment-history
-- One page of the pair's events, oldest first, after the cursor's id: no row when the pair
-- has never existed, one row of NULLs when the page is empty.
SELECT page.id, page.at, page.action, page.from_status, page.to_status, page.actor,
       page.request_id, page.reason
FROM student_courses AS sc
LEFT JOIN LATERAL (
    SELECT e.id, e.at, e.action, e.from_status, e.to_status, e.actor, e.request_id, e.reason
    FROM enrollment_events AS e
    WHERE e.student_id = sc.student_id AND e.course_id = sc.course_id AND e.id > :after_id
    ORDER BY e.id
    LIMIT :limit
) AS page ON true
WHERE sc.student_id = :student_id AND sc.course_id = :course_id
ORDER BY page.id;

-- name: select-student-exists
-- Whether the student exists, without locking it.
SELECT EXISTS (SELECT 1 FROM students WHERE id = :student_id);

-- name: select-promoted
-- The pairs this transaction promoted from a waitlist (sql/schema/change_context.sql).
SELECT student_id, course_id FROM promoted_in_this_transaction();

-- name: enroll-batch
-- Tries every (student, course) pair of a batch in one statement, like `enroll` tries one
-- student's courses, and answers each pair's outcome in request order: unknown (student or
-- course), held (already enrolled or waitlisted), enrolled, waitlisted or full.
-- Locks first: the students asked for (FOR KEY SHARE, against a concurrent delete), every
-- one of them before any course (count(*) reads them all), then the courses in id order (so
-- concurrent batches and enrollments cannot deadlock). Under READ COMMITTED a locked course
-- is read at its newest version, so its free seats are exact. Within a course, the pairs
-- that need a place rank in request order: the first take the free seats, the next (with
-- :waitlist) the free waitlist places, the rest find it full.
-- With :atomic, nothing is inserted unless every pair takes a seat or a place. A pair
-- enrolled by a concurrent request after this statement's snapshot meets its row in
-- ON CONFLICT and fails the transition trigger, which undoes the statement (the service
-- runs it again, and it then reads that pair as held). The seats this statement takes are
-- counted by the triggers, once per course (migrations/0013), after it: each row's counts
-- are the locked ones plus this batch's.
WITH setting AS (
    SELECT set_config('lock_timeout', :lock_timeout, true) <> ''
           AND set_change_context(:actor, :request_id, NULL) AS done
),
asked AS (
    SELECT a.ord, a.student_id, a.course_id
    FROM unnest(:student_ids::bigint[], :course_ids::bigint[])
         WITH ORDINALITY AS a (student_id, course_id, ord)
),
known_students AS (
    SELECT id
    FROM students
    WHERE id IN (SELECT student_id FROM asked) AND (SELECT done FROM setting)
    ORDER BY id
    FOR KEY SHARE
),
locked_courses AS (
    SELECT id, code, title, capacity, enrolled_count, waitlist_capacity, waitlisted_count,
           external_id, created_at, updated_at
    FROM courses
    WHERE id IN (SELECT course_id FROM asked)
          AND (SELECT count(*) FROM known_students) IS NOT NULL
    ORDER BY id
    FOR UPDATE
),
pairs AS (
    SELECT a.ord, a.student_id, a.course_id, s.id IS NOT NULL AS student_known,
           c.id IS NOT NULL AS course_known, sc.status AS held_status,
           CASE WHEN sc.waitlist_ticket IS NOT NULL
                THEN waitlist_position(sc.course_id, sc.waitlist_ticket) END AS held_position,
           sc.enrolled_at AS held_enrolled_at,
           coalesce(sc.status_changed_at, sc.enrolled_at) AS held_status_changed_at,
           greatest(c.capacity - c.enrolled_count, 0) AS free_seats,
           c.waitlist_capacity - c.waitlisted_count AS free_places,
           c.capacity IS NULL AS unlimited
    FROM asked AS a
    LEFT JOIN known_students AS s ON s.id = a.student_id
    LEFT JOIN locked_courses AS c ON c.id = a.course_id
    LEFT JOIN student_courses AS sc
        ON sc.student_id = a.student_id AND sc.course_id = a.course_id
           AND sc.status IN ('enrolled', 'waitlisted')
),
ranked AS (
    SELECT p.*,
           row_number() OVER (
               PARTITION BY p.course_id, (p.student_known AND p.course_known
                                          AND p.held_status IS NULL)
               ORDER BY p.ord
           ) AS place
    FROM pairs AS p
),
outcomes AS (
    SELECT r.*,
           CASE WHEN NOT r.student_known THEN 'unknown_student'
                WHEN NOT r.course_known THEN 'unknown_course'
                WHEN r.held_status IS NOT NULL THEN 'held'
                WHEN r.unlimited OR r.place <= r.free_seats THEN 'enrolled'
                WHEN :waitlist AND r.place - r.free_seats <= r.free_places THEN 'waitlisted'
                ELSE 'full' END AS outcome
    FROM ranked AS r
),
verdict AS (
    SELECT NOT :atomic OR bool_and(outcome IN ('enrolled', 'waitlisted')) AS can_write
    FROM outcomes
),
added AS (
    INSERT INTO student_courses (student_id, course_id, status)
    SELECT student_id, course_id, outcome
    FROM outcomes
    WHERE outcome IN ('enrolled', 'waitlisted') AND (SELECT can_write FROM verdict)
    ORDER BY ord
    ON CONFLICT (student_id, course_id) DO UPDATE SET status = excluded.status
    RETURNING student_id, course_id, enrolled_at, status, status_changed_at
),
taken AS (
    SELECT course_id, count(*) FILTER (WHERE status = 'enrolled') AS seats,
           count(*) FILTER (WHERE status = 'waitlisted') AS places
    FROM added
    GROUP BY course_id
)
SELECT o.student_id, o.course_id, o.outcome, a.status IS NOT NULL AS written,
       c.id, c.code, c.title, c.capacity,
       c.enrolled_count + coalesce(t.seats, 0) AS enrolled_count,
       c.waitlist_capacity,
       c.waitlisted_count + coalesce(t.places, 0) AS waitlisted_count,
       c.external_id, c.created_at, c.updated_at,
       coalesce(a.enrolled_at, o.held_enrolled_at) AS enrolled_at,
       coalesce(a.status, o.held_status) AS status,
       coalesce(a.status_changed_at, o.held_status_changed_at) AS status_changed_at,
       CASE WHEN a.status = 'waitlisted' THEN c.waitlisted_count + o.place - o.free_seats
            WHEN a.status IS NULL THEN o.held_position END AS waitlist_position
FROM outcomes AS o
LEFT JOIN locked_courses AS c ON c.id = o.course_id
LEFT JOIN added AS a ON a.student_id = o.student_id AND a.course_id = o.course_id
LEFT JOIN taken AS t ON t.course_id = o.course_id
ORDER BY o.ord;
