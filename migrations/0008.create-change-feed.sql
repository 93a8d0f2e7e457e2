-- The change feed: triggers write one `changes` row for every insert, update and delete of a
-- student, a course or an enrollment, in the change's own transaction (cascades too), with
-- the object rendered as the API shows it. A row has no feed position until it is visible:
-- sequence_changes() numbers what has committed, one caller at a time, so a position is
-- never handed out while a change before it could still appear (API.md "Change feed").
-- Writers take no lock for the feed and do not NOTIFY (Postgres serializes every notifying
-- commit on one lock): their commits stay concurrent.
-- Kept short under write load: two new tables and functions, and triggers that change only
-- the catalog (each CREATE TRIGGER waits for in-flight writes to its table, once).
-- depends: 0007.validate-enrollment-status
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE TABLE IF NOT EXISTS changes (
    -- Taken when the change is written; a row changed by two transactions gets the later
    -- id from the later one, which could write it only once the first had committed.
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Commit order, from sequence_changes(); NULL until then.
    position bigint,
    at timestamptz NOT NULL DEFAULT now(),
    entity text NOT NULL CHECK (entity IN ('student', 'course', 'enrollment')),
    op text NOT NULL CHECK (op IN ('upsert', 'delete')),
    key json NOT NULL,
    -- json, not jsonb: the text is served as stored, fields in the API's order.
    data json
);
CREATE UNIQUE INDEX IF NOT EXISTS changes_position_key ON changes (position);
CREATE INDEX IF NOT EXISTS changes_unsequenced_idx ON changes (id) WHERE position IS NULL;

-- One row: the last position handed out, and how far retention has deleted the feed.
-- Its row lock is what makes sequence_changes() run one caller at a time.
CREATE TABLE IF NOT EXISTS change_feed_state (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_position bigint NOT NULL DEFAULT 0,
    expired_through bigint NOT NULL DEFAULT 0
);
INSERT INTO change_feed_state DEFAULT VALUES ON CONFLICT DO NOTHING;

-- A timestamp as the API writes it (orjson's RFC 3339 in UTC): microseconds unless zero.
CREATE OR REPLACE FUNCTION api_timestamp(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(
        t AT TIME ZONE 'UTC',
        CASE WHEN date_part('microseconds', t)::bigint % 1000000 = 0
             THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"'
             ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END
    )
$$;

-- Each object as the API shows it, for the triggers below and 0009's baseline. row_to_json
-- writes it compact, fields in this order. An enrollment has its own fields only: its
-- course's (the count) come in the course's own changes, so a replayed enrollment never
-- holds a stale count.
CREATE OR REPLACE FUNCTION student_json(s students) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT row_to_json(o) FROM (
        SELECT s.id, s.first_name, s.last_name, s.email,
               api_timestamp(s.created_at) AS created_at,
               api_timestamp(s.updated_at) AS updated_at
    ) AS o
$$;

CREATE OR REPLACE FUNCTION course_json(c courses) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT row_to_json(o) FROM (
        SELECT c.id, c.code, c.title, c.capacity, c.enrolled_count,
               api_timestamp(c.created_at) AS created_at,
               api_timestamp(c.updated_at) AS updated_at
    ) AS o
$$;

CREATE OR REPLACE FUNCTION enrollment_json(e student_courses) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT row_to_json(o) FROM (
        SELECT e.student_id, e.course_id, e.status,
               api_timestamp(e.enrolled_at) AS enrolled_at,
               api_timestamp(coalesce(e.status_changed_at, e.enrolled_at)) AS status_changed_at
    ) AS o
$$;

CREATE OR REPLACE FUNCTION id_key(id bigint) RETURNS json
LANGUAGE sql IMMUTABLE AS $$
    SELECT row_to_json(k) FROM (SELECT id_key.id AS id) AS k
$$;

CREATE OR REPLACE FUNCTION enrollment_key(student_id bigint, course_id bigint) RETURNS json
LANGUAGE sql IMMUTABLE AS $$
    SELECT row_to_json(k) FROM (
        SELECT enrollment_key.student_id AS student_id, enrollment_key.course_id AS course_id
    ) AS k
$$;

CREATE OR REPLACE FUNCTION record_student_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO changes (entity, op, key)
        VALUES ('student', 'delete', id_key(OLD.id));
    ELSE
        INSERT INTO changes (entity, op, key, data)
        VALUES ('student', 'upsert', id_key(NEW.id), student_json(NEW));
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION record_course_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO changes (entity, op, key)
        VALUES ('course', 'delete', id_key(OLD.id));
    ELSE
        INSERT INTO changes (entity, op, key, data)
        VALUES ('course', 'upsert', id_key(NEW.id), course_json(NEW));
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION record_enrollment_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO changes (entity, op, key)
        VALUES ('enrollment', 'delete', enrollment_key(OLD.student_id, OLD.course_id));
    ELSE
        INSERT INTO changes (entity, op, key, data)
        VALUES ('enrollment', 'upsert', enrollment_key(NEW.student_id, NEW.course_id),
                enrollment_json(NEW));
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER students_feed
AFTER INSERT OR UPDATE OR DELETE ON students
FOR EACH ROW EXECUTE FUNCTION record_student_change();

CREATE OR REPLACE TRIGGER courses_feed
AFTER INSERT OR UPDATE OR DELETE ON courses
FOR EACH ROW EXECUTE FUNCTION record_course_change();

CREATE OR REPLACE TRIGGER student_courses_feed
AFTER INSERT OR UPDATE OR DELETE ON student_courses
FOR EACH ROW EXECUTE FUNCTION record_enrollment_change();

-- Gives feed positions, in id order, to up to `batch` changes that have committed; returns
-- the last position handed out. One caller at a time (the state row's lock, held to commit),
-- and each statement here reads a fresh snapshot, taken once the caller before has committed:
-- a position goes only to a visible change, and never twice.
CREATE OR REPLACE FUNCTION sequence_changes(batch int) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    head bigint;
BEGIN
    IF NOT EXISTS (SELECT FROM changes WHERE position IS NULL) THEN
        RETURN (SELECT last_position FROM change_feed_state);
    END IF;
    SELECT last_position INTO head FROM change_feed_state FOR NO KEY UPDATE;
    WITH pending AS (
        SELECT id, row_number() OVER (ORDER BY id) AS n
        FROM changes WHERE position IS NULL
        ORDER BY id LIMIT batch
    ), numbered AS (
        UPDATE changes SET position = head + pending.n
        FROM pending WHERE changes.id = pending.id
        RETURNING 1
    )
    SELECT head + count(*) INTO head FROM numbered;
    UPDATE change_feed_state SET last_position = head;
    RETURN head;
END;
$$;
