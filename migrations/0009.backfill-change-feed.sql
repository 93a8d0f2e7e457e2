-- Starts the feed with every row that existed before it: one upsert each, so that replaying
-- the feed from the start yields the live state (API.md "Change feed").
-- Safe under write load without locking a table: 0008's triggers have committed, so a write
-- this statement's snapshot misses has a change of its own; that change gets its position
-- after this baseline (the state row's lock holds sequence_changes() off until this commits),
-- so a replay applies it over the older copy read here.
-- depends: 0008.create-change-feed
SET lock_timeout = '5s';
SET statement_timeout = '600s';

-- First the lock; the next statement then reads a snapshot taken after any sequence_changes()
-- before it has committed.
DO $$ BEGIN PERFORM FROM change_feed_state FOR NO KEY UPDATE; END $$;

WITH baseline AS (
    SELECT 'student' AS entity, feed_key(s) AS key, feed_data(s) AS data FROM students AS s
    UNION ALL
    SELECT 'course', feed_key(c), feed_data(c) FROM courses AS c
    UNION ALL
    SELECT 'enrollment', feed_key(e), feed_data(e) FROM student_courses AS e
), numbered AS (
    INSERT INTO changes (position, entity, op, key, data)
    SELECT state.last_position + row_number() OVER (), entity, 'upsert', key, data
    FROM baseline, change_feed_state AS state
    RETURNING position
)
UPDATE change_feed_state
SET last_position = coalesce((SELECT max(position) FROM numbered), last_position);
