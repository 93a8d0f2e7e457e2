-- Enrollment bookkeeping, as it is now: the moves a pair may make (API.md "Enrollment
-- lifecycle"), the waitlist's tickets and promotions ("Waitlist"), and per statement the
-- course counts, the feed's enrollment changes and the pairs' history.
--
-- Who acts, the request and the reason come from change_context.sql's change_actor(),
-- change_request_id() and change_reason(); the pairs a freed seat went to are handed back
-- through its note_promoted(), for the service to log.

-- The moves API.md allows, checked by the database for every statement, and the times
-- they stamp: a move not listed (enrolled to enrolled, say) fails the statement.
CREATE OR REPLACE FUNCTION check_enrollment_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (OLD.status, NEW.status) IN (
        ('enrolled', 'dropped'), ('enrolled', 'completed'),
        ('waitlisted', 'dropped'), ('waitlisted', 'enrolled'),
        ('dropped', 'enrolled'), ('dropped', 'waitlisted'),
        ('completed', 'enrolled'), ('completed', 'waitlisted')
    ) THEN
        RAISE EXCEPTION 'an enrollment cannot move from % to %', OLD.status, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'student_courses_transition';
    END IF;
    NEW.status_changed_at := now();
    IF NEW.status = 'enrolled' THEN  -- a new seat; a drop keeps when the last was taken
        NEW.enrolled_at := now();
    END IF;
    RETURN NEW;
END;
$$;

-- A pair that becomes waitlisted (inserted so, or moved so) takes a ticket and gives up
-- enrolled_at; any other status holds no ticket. Fires after the transition check
-- (triggers.sql).
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

-- Enrolls the longest-waiting students of the course, as many as it has free seats (all of
-- them without a limit). The caller holds the course's row lock, so no other transaction
-- promotes from this queue meanwhile, and this statement's snapshot, taken after the lock,
-- sees every promotion committed before. The promoted pairs' history says why in `reason`;
-- the pairs are noted (note_promoted()) for the service to log.
CREATE OR REPLACE FUNCTION promote_waitlisted(course bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    caller_reason text := change_reason();
    promoted text;
BEGIN
    PERFORM set_change_reason('a seat freed');
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
    PERFORM set_change_reason(caller_reason);
    IF promoted IS NOT NULL THEN
        PERFORM note_promoted(promoted);
    END IF;
END;
$$;

-- One function for the three events: PL/pgSQL plans a statement when it first runs it, so
-- each branch names only the transition tables its event has. Each branch adds each
-- course's change in seats and queue places with one UPDATE, then fills the seats it freed
-- from the courses' queues (promote_waitlisted() in id order, under the row locks the
-- update took).
-- A statement fires its statement triggers even when it touched no row: an enrollment
-- refused from its snapshot (most of a rush) inserts nothing, yet fires both the INSERT and
-- the UPDATE trigger (ON CONFLICT DO UPDATE). Such a call has nothing to book and returns
-- before anything else (EXPLAIN ANALYZE: the two took 0.3 ms of a refusal's 0.7 ms).
CREATE OR REPLACE FUNCTION book_enrollments() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    actor text;
    request_id text;
    reason text;
    freed bigint[];
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT FROM old_rows) THEN
            RETURN NULL;
        END IF;
    ELSIF NOT EXISTS (SELECT FROM new_rows) THEN
        RETURN NULL;
    END IF;
    actor := change_actor();
    request_id := change_request_id();
    reason := change_reason();
    IF TG_OP = 'INSERT' THEN
        UPDATE courses AS c
        SET enrolled_count = c.enrolled_count + d.seats,
            waitlisted_count = c.waitlisted_count + d.queue
        FROM (
            SELECT course_id, count(*) FILTER (WHERE status = 'enrolled') AS seats,
                   count(*) FILTER (WHERE status = 'waitlisted') AS queue
            FROM new_rows GROUP BY course_id
        ) AS d
        WHERE c.id = d.course_id AND (d.seats <> 0 OR d.queue <> 0);
        INSERT INTO changes (entity, op, key, data)
        SELECT 'enrollment', 'upsert', feed_key(n::student_courses), feed_data(n::student_courses)
        FROM new_rows AS n ORDER BY n.waitlist_ticket, n.course_id, n.student_id;
        INSERT INTO enrollment_events
            (student_id, course_id, at, action, to_status, actor, request_id, reason)
        SELECT student_id, course_id, status_changed_at, status, status,
               actor, request_id, reason
        FROM new_rows ORDER BY waitlist_ticket, course_id, student_id;
    ELSIF TG_OP = 'UPDATE' THEN
        WITH d AS (
            SELECT n.course_id,
                   sum((n.status = 'enrolled')::int - (o.status = 'enrolled')::int) AS seats,
                   sum((n.status = 'waitlisted')::int - (o.status = 'waitlisted')::int) AS queue
            FROM new_rows AS n
            JOIN old_rows AS o USING (student_id, course_id)
            GROUP BY n.course_id
        ), counted AS (
            UPDATE courses AS c
            SET enrolled_count = c.enrolled_count + d.seats,
                waitlisted_count = c.waitlisted_count + d.queue
            FROM d
            WHERE c.id = d.course_id AND (d.seats <> 0 OR d.queue <> 0)
            RETURNING c.id, d.seats
        )
        SELECT array_agg(id ORDER BY id) FILTER (WHERE seats < 0) INTO freed FROM counted;
        PERFORM promote_waitlisted(course) FROM unnest(freed) AS course;
        INSERT INTO changes (entity, op, key, data)
        SELECT 'enrollment', 'upsert', feed_key(n::student_courses), feed_data(n::student_courses)
        FROM new_rows AS n
        JOIN old_rows AS o USING (student_id, course_id)
        ORDER BY coalesce(n.waitlist_ticket, o.waitlist_ticket), n.course_id, n.student_id;
        INSERT INTO enrollment_events
            (student_id, course_id, at, action, from_status, to_status, actor, request_id,
             reason)
        SELECT n.student_id, n.course_id, n.status_changed_at,
               CASE WHEN o.status = 'waitlisted' AND n.status = 'enrolled' THEN 'promoted'
                    ELSE n.status END,
               o.status, n.status, actor, request_id, reason
        FROM new_rows AS n
        JOIN old_rows AS o USING (student_id, course_id)
        WHERE n.status IS DISTINCT FROM o.status
        ORDER BY coalesce(n.waitlist_ticket, o.waitlist_ticket), n.course_id, n.student_id;
    ELSE
        WITH d AS (
            SELECT course_id, count(*) FILTER (WHERE status = 'enrolled') AS seats,
                   count(*) FILTER (WHERE status = 'waitlisted') AS queue
            FROM old_rows GROUP BY course_id
        ), counted AS (
            UPDATE courses AS c
            SET enrolled_count = c.enrolled_count - d.seats,
                waitlisted_count = c.waitlisted_count - d.queue
            FROM d
            WHERE c.id = d.course_id AND (d.seats <> 0 OR d.queue <> 0)
            RETURNING c.id, d.seats
        )
        SELECT array_agg(id ORDER BY id) FILTER (WHERE seats > 0) INTO freed FROM counted;
        PERFORM promote_waitlisted(course) FROM unnest(freed) AS course;
        INSERT INTO changes (entity, op, key, was)
        SELECT 'enrollment', 'delete', feed_key(o::student_courses), feed_data(o::student_courses)
        FROM old_rows AS o ORDER BY o.course_id, o.student_id;
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
