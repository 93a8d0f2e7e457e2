-- The change feed's functions, as they are now (API.md "Change feed"). Triggers write one
-- `changes` row for every insert, update and delete of a student, a course or an enrollment,
-- in the change's own transaction, with the object rendered as the API shows it. A row has no
-- feed position until it is visible: sequence_changes() numbers what has committed, one
-- caller at a time, so a position is never handed out while a change before it could still
-- appear. Writers take no lock for the feed and do not NOTIFY (Postgres serializes every
-- notifying commit on one lock): their commits stay concurrent.
--
-- This folder holds the current definition of every function and trigger; migrations/ holds
-- tables, columns, constraints, indexes and backfills. `python -m service migrate` applies
-- it after the pending migrations (service/migrations.py says when and how).

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
-- Migration 0009's baseline used them too.
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
        SELECT s.id, s.first_name, s.last_name, s.email, s.external_id,
               api_timestamp(s.created_at) AS created_at,
               api_timestamp(s.updated_at) AS updated_at
    ) AS o
$$;

CREATE OR REPLACE FUNCTION feed_data(c courses) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT row_to_json(o) FROM (
        SELECT c.id, c.code, c.title, c.capacity, c.enrolled_count, c.waitlist_capacity,
               c.waitlisted_count, c.external_id,
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
        -- `was`: what it last looked like, for OneRoster's tombstones (migration 0020).
        INSERT INTO changes (entity, op, key, was)
        VALUES (TG_ARGV[0], 'delete', feed_key(OLD), feed_data(OLD));
    ELSE
        INSERT INTO changes (entity, op, key, data)
        VALUES (TG_ARGV[0], 'upsert', feed_key(NEW), feed_data(NEW));
    END IF;
    RETURN NULL;
END;
$$;

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
