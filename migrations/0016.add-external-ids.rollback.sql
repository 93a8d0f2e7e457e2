-- Undoes 0016 (after 0017's rollback has dropped the indexes): the columns go, and what
-- they held with them. The feed's objects are rendered again as they were before 0016
-- (sql/schema/feed.sql renders external_id, which would no longer exist); the next
-- `migrate` puts back the functions of the code that runs it.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

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
        SELECT c.id, c.code, c.title, c.capacity, c.enrolled_count, c.waitlist_capacity,
               c.waitlisted_count,
               api_timestamp(c.created_at) AS created_at,
               api_timestamp(c.updated_at) AS updated_at
    ) AS o
$$;

ALTER TABLE courses DROP COLUMN IF EXISTS external_id;
ALTER TABLE students DROP COLUMN IF EXISTS external_id;
