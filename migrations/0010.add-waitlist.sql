-- Waitlists: a full course can queue students up to its waitlist_capacity, and every seat
-- that frees goes to the longest-waiting one in the transaction that freed it, whatever
-- statement frees it (a drop, a completion, a deletion's cascade, a raised capacity).
-- The queue's order is a ticket from one sequence, drawn while the course's row is locked
-- (the enroll statement locks it before it waitlists), so tickets of one course are drawn
-- in the order their transactions commit and are unique: every reader agrees on it.
-- Kept short under write load: new columns have constant defaults or none (stored once,
-- not per row), the CHECKs are added NOT VALID and validated by 0012, dropping a NOT NULL
-- changes only the catalog, and the queue's index is built CONCURRENTLY by 0011.
-- depends: 0009.backfill-change-feed
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE courses ADD COLUMN IF NOT EXISTS waitlist_capacity bigint NOT NULL DEFAULT 0;
ALTER TABLE courses ADD COLUMN IF NOT EXISTS waitlisted_count bigint NOT NULL DEFAULT 0;
ALTER TABLE courses
    ADD CONSTRAINT courses_waitlisted_within_capacity
    CHECK (waitlist_capacity BETWEEN 0 AND 100000
           AND waitlisted_count BETWEEN 0 AND waitlist_capacity) NOT VALID;

-- A waitlisted pair holds no seat, so it has no enrolled_at (API.md "Waitlist").
-- squawk-ignore ban-drop-not-null
ALTER TABLE student_courses ALTER COLUMN enrolled_at DROP NOT NULL;
ALTER TABLE student_courses ADD COLUMN IF NOT EXISTS waitlist_ticket bigint;
CREATE SEQUENCE IF NOT EXISTS waitlist_tickets AS bigint;

-- Where a waitlisted pair stands in its course's queue (1 = next), exact in the reader's
-- snapshot; NULL for a pair in any other status. Postgres cannot inline it (a subquery), and
-- a call costs more than the rest of a row: statements call it only for a ticket.
CREATE OR REPLACE FUNCTION waitlist_position(course bigint, ticket bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN ticket IS NOT NULL THEN (
        SELECT count(*) FROM student_courses
        WHERE course_id = course AND status = 'waitlisted' AND waitlist_ticket <= ticket
    ) END
$$;

-- A pair that becomes waitlisted (inserted so, or moved so) takes a ticket and gives up
-- enrolled_at; any other status holds no ticket. Runs after 0006's transition check.
CREATE OR REPLACE FUNCTION stamp_waitlist_ticket() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'waitlisted' THEN
        NEW.enrolled_at := NULL;
        NEW.waitlist_ticket := nextval('waitlist_tickets');
    ELSE
        NEW.waitlist_ticket := NULL;
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER student_courses_waitlist
BEFORE INSERT OR UPDATE OF status ON student_courses
FOR EACH ROW EXECUTE FUNCTION stamp_waitlist_ticket();

-- Enrolls the longest-waiting students of the course, as many as it has free seats (all of
-- them without a limit). The caller holds the course's row lock, so no other transaction
-- promotes from this queue meanwhile, and this statement's snapshot, taken after the lock,
-- sees every promotion committed before. The promoted pairs' history says why in `reason`;
-- the pairs are listed in enrollment.promoted for the service to log.
CREATE OR REPLACE FUNCTION promote_waitlisted(course bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    caller_reason text := current_setting('enrollment.reason', true);
    promoted text;
BEGIN
    PERFORM set_config('enrollment.reason', 'a seat freed', true);
    WITH next AS (
        SELECT sc.student_id
        FROM student_courses AS sc
        WHERE sc.course_id = course AND sc.status = 'waitlisted'
        ORDER BY sc.waitlist_ticket
        -- No limit without a capacity (greatest() would turn NULL into 0).
        LIMIT (SELECT CASE WHEN capacity IS NOT NULL THEN greatest(capacity - enrolled_count, 0) END
               FROM courses WHERE id = course)
    ), moved AS (
        UPDATE student_courses AS sc SET status = 'enrolled'
        FROM next
        WHERE sc.student_id = next.student_id AND sc.course_id = course
        RETURNING sc.student_id
    )
    SELECT string_agg(student_id || ':' || course, ',') INTO promoted FROM moved;
    PERFORM set_config('enrollment.reason', coalesce(caller_reason, ''), true);
    IF promoted IS NOT NULL THEN
        PERFORM set_config('enrollment.promoted', concat_ws(',',
            nullif(current_setting('enrollment.promoted', true), ''), promoted), true);
    END IF;
END;
$$;

-- enrolled_count and waitlisted_count, both kept by one update of the course's row (which
-- locks it), and a freed seat filled from the queue at once: 0006's function, taught about
-- the waitlist.
CREATE OR REPLACE FUNCTION count_course_enrollment() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    seats int := 0;
    queue int := 0;
    course bigint := coalesce(NEW.course_id, OLD.course_id);
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        seats := seats + (NEW.status = 'enrolled')::int;
        queue := queue + (NEW.status = 'waitlisted')::int;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        seats := seats - (OLD.status = 'enrolled')::int;
        queue := queue - (OLD.status = 'waitlisted')::int;
    END IF;
    IF seats <> 0 OR queue <> 0 THEN
        UPDATE courses
        SET enrolled_count = enrolled_count + seats, waitlisted_count = waitlisted_count + queue
        WHERE id = course;
    END IF;
    IF seats < 0 THEN
        PERFORM promote_waitlisted(course);
    END IF;
    RETURN NULL;
END;
$$;

-- A raised (or removed) capacity frees seats too.
CREATE OR REPLACE FUNCTION fill_raised_capacity() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM promote_waitlisted(NEW.id);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER courses_capacity_raised
AFTER UPDATE OF capacity ON courses
FOR EACH ROW
WHEN (NEW.waitlisted_count > 0
      AND (NEW.capacity IS NULL OR NEW.capacity > coalesce(OLD.capacity, NEW.capacity)))
EXECUTE FUNCTION fill_raised_capacity();

-- The feed's course, with the waitlist's two fields: 0008's function, extended.
CREATE OR REPLACE FUNCTION feed_data(c courses) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT row_to_json(o) FROM (
        SELECT c.id, c.code, c.title, c.capacity, c.enrolled_count, c.waitlist_capacity,
               c.waitlisted_count,
               api_timestamp(c.created_at) AS created_at,
               api_timestamp(c.updated_at) AS updated_at
    ) AS o
$$;
