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

-- What a change carries, by table (overloads: record_change() below calls the one for its
-- row's type): its key, and the object as the API shows it, written compact and in this
-- order by row_to_json. An enrollment carries its own fields only: its course's (the count)
-- come in the course's own changes, so a replayed enrollment never holds a stale count.
-- 0009's baseline uses them too.
CREATE OR REPLACE FUNCTION feed_key(s students) RETURNS json
LANGUAGE sql IMMUTABLE AS $$
    SELECT row_to_json(k) FROM (SELECT s.id) AS k
$$;

CREATE OR REPLACE FUNCTION feed_key(c courses) RETURNS json
LANGUAGE sql IMMUTABLE AS $$
    SELECT row_to_json(k) FROM (SELECT c.id) AS k
$$;

CREATE OR REPLACE FUNCTION feed_key(e student_courses) RETURNS json
LANGUAGE sql IMMUTABLE AS $$
    SELECT row_to_json(k) FROM (SELECT e.student_id, e.course_id) AS k
$$;

CREATE OR REPLACE FUNCTION feed_data(s students) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT row_to_json(o) FROM (
        SELECT s.id, s.first_name, s.last_name, s.email,
               api_timestamp(s.created_at) AS created_at,
               api_timestamp(s.updated_at) AS updated_at
    ) AS o
$$;

CREATE OR REPLACE FUNCTION feed_data(c courses) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT row_to_json(o) FROM (
        SELECT c.id, c.code, c.title, c.capacity, c.enrolled_count,
               api_timestamp(c.created_at) AS created_at,
               api_timestamp(c.updated_at) AS updated_at
    ) AS o
$$;

CREATE OR REPLACE FUNCTION feed_data(e student_courses) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT row_to_json(o) FROM (
        SELECT e.student_id, e.course_id, e.status,
               api_timestamp(e.enrolled_at) AS enrolled_at,
               api_timestamp(coalesce(e.status_changed_at, e.enrolled_at)) AS status_changed_at
    ) AS o
$$;

-- One change per row inserted, updated or deleted; the entity's name is the trigger's
-- argument. PL/pgSQL compiles a trigger function once per table, each with its row type,
-- so feed_key() and feed_data() resolve to that table's.
CREATE OR REPLACE FUNCTION record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO changes (entity, op, key) VALUES (TG_ARGV[0], 'delete', feed_key(OLD));
    ELSE
        INSERT INTO changes (entity, op, key, data)
        VALUES (TG_ARGV[0], 'upsert', feed_key(NEW), feed_data(NEW));
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER students_feed
AFTER INSERT OR UPDATE OR DELETE ON students
FOR EACH ROW EXECUTE FUNCTION record_change('student');

CREATE OR REPLACE TRIGGER courses_feed
AFTER INSERT OR UPDATE OR DELETE ON courses
FOR EACH ROW EXECUTE FUNCTION record_change('course');

CREATE OR REPLACE TRIGGER student_courses_feed
AFTER INSERT OR UPDATE OR DELETE ON student_courses
FOR EACH ROW EXECUTE FUNCTION record_change('enrollment');

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
