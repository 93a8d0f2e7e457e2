-- Enrollments keep their record: a status on each pair (enrolled, waitlisted, dropped,
-- completed), when it last changed, and an append-only history that triggers write in the
-- same transaction as the change they record, whatever statement makes it (cascades too).
-- Kept short under write load: the new columns have no default to write into existing rows
-- (status's constant default is stored once, not per row, since Postgres 11),
-- the triggers change only the catalog, the CHECK is added NOT VALID and
-- validated by 0007 under a lock that lets reads and writes go on, and the backfill of
-- history reads student_courses without locking a row of it.
-- depends: 0005.create-idempotency-keys
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE student_courses ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'enrolled';
-- NULL in rows older than this migration: for them the status changed when they enrolled.
ALTER TABLE student_courses ADD COLUMN IF NOT EXISTS status_changed_at timestamptz;
ALTER TABLE student_courses ALTER COLUMN status_changed_at SET DEFAULT now();
ALTER TABLE student_courses
    ADD CONSTRAINT student_courses_status_known
    CHECK (status IN ('enrolled', 'waitlisted', 'dropped', 'completed')) NOT VALID;

CREATE TABLE IF NOT EXISTS enrollment_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_id bigint NOT NULL,
    course_id bigint NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    action text NOT NULL,
    from_status text,
    to_status text NOT NULL,
    actor text NOT NULL,
    request_id text,
    reason text,
    -- A deleted student or course takes its enrollments and their history with it.
    CONSTRAINT enrollment_events_pair_fkey FOREIGN KEY (student_id, course_id)
        REFERENCES student_courses (student_id, course_id) ON DELETE CASCADE
);

-- The history endpoint pages one pair's events in id order; the cascade finds them too.
CREATE INDEX IF NOT EXISTS enrollment_events_pair_idx
    ON enrollment_events (student_id, course_id, id);

-- Every pair enrolled before this migration gets the event it would have had.
INSERT INTO enrollment_events (student_id, course_id, at, action, to_status, actor)
SELECT student_id, course_id, enrolled_at, 'enrolled', 'enrolled', 'migration'
FROM student_courses;

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

CREATE OR REPLACE TRIGGER student_courses_transition
BEFORE UPDATE OF status ON student_courses
FOR EACH ROW EXECUTE FUNCTION check_enrollment_transition();

-- One event per insert or status change. Who and why come from the transaction's
-- settings, which the service sets beside its write (sql/enrollments.sql).
CREATE OR REPLACE FUNCTION record_enrollment_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    from_status text := CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END;
BEGIN
    INSERT INTO enrollment_events
        (student_id, course_id, at, action, from_status, to_status, actor, request_id, reason)
    VALUES (
        NEW.student_id, NEW.course_id, NEW.status_changed_at,
        CASE WHEN from_status = 'waitlisted' AND NEW.status = 'enrolled' THEN 'promoted'
             ELSE NEW.status END,
        from_status, NEW.status,
        coalesce(nullif(current_setting('enrollment.actor', true), ''), 'system'),
        nullif(current_setting('enrollment.request_id', true), ''),
        nullif(current_setting('enrollment.reason', true), '')
    );
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER student_courses_history
AFTER INSERT OR UPDATE OF status ON student_courses
FOR EACH ROW EXECUTE FUNCTION record_enrollment_event();

-- enrolled_count counts status enrolled only: 0003's function, taught about status.
CREATE OR REPLACE FUNCTION count_course_enrollment() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    delta int := 0;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'enrolled' THEN
        delta := delta + 1;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'enrolled' THEN
        delta := delta - 1;
    END IF;
    IF delta <> 0 THEN
        UPDATE courses SET enrolled_count = enrolled_count + delta
        WHERE id = coalesce(NEW.course_id, OLD.course_id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER student_courses_count
AFTER INSERT OR UPDATE OF status OR DELETE ON student_courses
FOR EACH ROW EXECUTE FUNCTION count_course_enrollment();
