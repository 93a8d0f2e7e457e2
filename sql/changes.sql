-- name: sequence-changes
-- Gives feed positions to up to :batch committed changes that have none (0008's
-- sequence_changes); returns the last position handed out.
SELECT sequence_changes(:batch);

-- name: select-changes
-- The feed's bounds and up to :limit changes after :after_position, in feed order, read in
-- one snapshot: a page is never cut by a retention run that its bounds do not show.
SELECT state.last_position, state.expired_through,
       c.position, c.at, c.entity, c.op, c.key, c.data
FROM change_feed_state AS state
LEFT JOIN LATERAL (
    SELECT position, at, entity, op, key, data
    FROM changes
    WHERE position > :after_position
    ORDER BY position
    LIMIT :limit
) AS c ON true
ORDER BY c.position;

-- name: expire-changes
-- Deletes up to :batch of the oldest entries, through the last written before now() less
-- :retention, and moves the horizon past them. `at` is when the change's transaction began,
-- not its commit, so an entry a few seconds younger than that may go with an older one after
-- it. Returns how many went.
WITH oldest AS (
    SELECT position, at FROM changes
    WHERE position IS NOT NULL
    ORDER BY position
    LIMIT :batch
), through AS (
    SELECT max(position) AS position FROM oldest WHERE at < now() - :retention::interval
), gone AS (
    DELETE FROM changes WHERE position <= (SELECT position FROM through)
    RETURNING 1
)
UPDATE change_feed_state
SET expired_through = greatest(expired_through, (SELECT position FROM through))
RETURNING (SELECT count(*) FROM gone);
