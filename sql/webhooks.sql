-- name: select-feed-bounds
-- The feed's last position handed out and how far retention has deleted it.
SELECT last_position, expired_through FROM change_feed_state;

-- name: insert-webhook
INSERT INTO webhooks (url, entities, description, secret, cursor_position)
VALUES (:url, :entities, :description, :secret, :cursor_position)
RETURNING id;

-- name: select-webhooks
-- Subscriptions as the API shows them, one (:webhook_id) or a page in id order, the latest
-- attempt in `attempt_*` columns.
SELECT w.id, w.url, w.entities, w.description, w.status, w.cursor_position,
       webhook_lag(w.cursor_position, w.entities) AS lag,
       w.created_at, w.updated_at, w.next_attempt_at, w.failing_since,
       a.id AS attempt_id, a.at AS attempt_at, a.first_position AS attempt_first_position,
       a.last_position AS attempt_last_position, a.status_code AS attempt_status_code,
       a.error AS attempt_error, a.duration_ms AS attempt_duration_ms
FROM webhooks AS w
LEFT JOIN LATERAL (
    SELECT id, at, first_position, last_position, status_code, error, duration_ms
    FROM webhook_attempts
    WHERE webhook_id = w.id
    ORDER BY id DESC
    LIMIT 1
) AS a ON true
WHERE (:webhook_id::bigint IS NULL OR w.id = :webhook_id) AND w.id > :after_id
ORDER BY w.id
LIMIT :limit;

-- name: lock-webhook
SELECT id, status, cursor_position FROM webhooks WHERE id = :webhook_id FOR UPDATE;

-- name: update-webhook
-- Changes the fields given. With :restart (a new cursor, status or entity list), the
-- delivery in hand is dropped and its lease taken back: a worker still sending it then
-- commits nothing (its lease token no longer matches), and the next delivery starts afresh,
-- at once.
UPDATE webhooks
SET url = coalesce(:url, url),
    entities = coalesce(:entities::text[], entities),
    description = coalesce(:description, description),
    status = coalesce(:status, status),
    cursor_position = coalesce(:cursor_position, cursor_position),
    delivery_id = CASE WHEN :restart THEN NULL ELSE delivery_id END,
    delivery_through = CASE WHEN :restart THEN NULL ELSE delivery_through END,
    failures = CASE WHEN :restart THEN 0 ELSE failures END,
    next_attempt_at = CASE WHEN :restart THEN NULL ELSE next_attempt_at END,
    failing_since = CASE WHEN :restart THEN NULL ELSE failing_since END,
    lease_owner = CASE WHEN :restart THEN NULL ELSE lease_owner END,
    lease_until = CASE WHEN :restart THEN NULL ELSE lease_until END,
    updated_at = now()
WHERE id = :webhook_id;

-- name: rotate-webhook-secret
-- The new secret signs from now on; the one it replaces signs too for :overlap seconds (a
-- secret rotated before then is dropped).
UPDATE webhooks
SET previous_secret = secret,
    previous_secret_until = now() + make_interval(secs => :overlap),
    secret = :secret,
    updated_at = now()
WHERE id = :webhook_id
RETURNING id;

-- name: delete-webhook
DELETE FROM webhooks WHERE id = :webhook_id RETURNING id;

-- name: select-webhook-attempts
-- A subscription's attempts, newest first, before the id :before_id (0: from the newest).
SELECT id, at, webhook_id, first_position, last_position, status_code, error, duration_ms
FROM webhook_attempts
WHERE webhook_id = :webhook_id AND (:before_id = 0 OR id < :before_id)
ORDER BY id DESC
LIMIT :limit;

-- name: select-webhook-exists
SELECT EXISTS (SELECT FROM webhooks WHERE id = :webhook_id);

-- name: expire-webhook-cursors
-- A subscription whose cursor has fallen out of the feed's retention can no longer be served
-- gap-free: it becomes expired, its delivery dropped, until a PATCH gives it a fresh cursor.
UPDATE webhooks
SET status = 'expired', delivery_id = NULL, delivery_through = NULL, failures = 0,
    next_attempt_at = NULL, lease_owner = NULL, lease_until = NULL, updated_at = now()
WHERE status IN ('active', 'paused', 'failing')
      AND cursor_position < (SELECT expired_through FROM change_feed_state)
RETURNING id;

-- name: claim-webhooks
-- Up to :room subscriptions with changes to deliver and no backoff, lease or pause holding
-- them, each leased to a fresh owner token for :lease seconds. SKIP LOCKED: processes
-- claiming at once each take others, and none waits.
WITH due AS (
    SELECT w.id
    FROM webhooks AS w
    WHERE w.status IN ('active', 'failing')
          AND (w.lease_until IS NULL OR w.lease_until < now())
          AND (w.next_attempt_at IS NULL OR w.next_attempt_at <= now())
          AND w.cursor_position < (SELECT last_position FROM change_feed_state)
    ORDER BY w.next_attempt_at NULLS FIRST, w.id
    LIMIT :room
    FOR UPDATE SKIP LOCKED
)
UPDATE webhooks AS w
SET lease_owner = gen_random_uuid(), lease_until = now() + make_interval(secs => :lease)
FROM due
WHERE w.id = due.id
RETURNING w.id, w.lease_owner, w.url, w.entities, w.cursor_position, w.delivery_id,
          w.delivery_through, w.failures;

-- name: select-delivery-changes
-- The changes a delivery holds: up to :limit matching ones after :after_position, through
-- :through_position (NULL: the feed's head), in feed order; with the head as read.
SELECT state.last_position, c.position, c.at, c.entity, c.op, c.key, c.data
FROM change_feed_state AS state
LEFT JOIN LATERAL (
    SELECT position, at, entity, op, key, data
    FROM changes
    WHERE position > :after_position
          AND position <= coalesce(:through_position, state.last_position)
          AND entity = ANY(:entities::text[])
    ORDER BY position
    LIMIT :limit
) AS c ON true
ORDER BY c.position;

-- name: begin-delivery
-- Before each attempt, under the lease only: the delivery's id and range, kept until it
-- succeeds (a retry re-sends them), the lease extended, and the secrets to sign with. No
-- row: the lease is lost (taken over, or the subscription changed, paused or deleted).
UPDATE webhooks
SET delivery_id = :delivery_id, delivery_through = :through_position,
    lease_until = now() + make_interval(secs => :lease)
WHERE id = :webhook_id AND lease_owner = :owner AND status IN ('active', 'failing')
RETURNING url, secret,
          CASE WHEN previous_secret_until > now() THEN previous_secret END AS previous_secret;

-- name: skip-to
-- No matching change up to :through_position: the cursor moves there without a delivery.
UPDATE webhooks
SET cursor_position = :through_position, lease_until = now() + make_interval(secs => :lease)
WHERE id = :webhook_id AND lease_owner = :owner AND cursor_position < :through_position
RETURNING id;

-- name: record-success
-- The delivery acknowledged, under the lease only: the cursor moves to its end, the backoff
-- ends, and the attempt is recorded. No row: the lease was lost and nothing changed.
WITH acknowledged AS (
    UPDATE webhooks
    SET cursor_position = delivery_through, delivery_id = NULL, delivery_through = NULL,
        failures = 0, next_attempt_at = NULL, failing_since = NULL,
        status = CASE WHEN status = 'failing' THEN 'active' ELSE status END,
        lease_until = now() + make_interval(secs => :lease)
    WHERE id = :webhook_id AND lease_owner = :owner AND delivery_id = :delivery_id
    RETURNING id
)
INSERT INTO webhook_attempts
    (webhook_id, at, first_position, last_position, status_code, duration_ms)
SELECT id, :at, :first_position, :last_position, :status_code, :duration_ms
FROM acknowledged
RETURNING webhook_id;

-- name: record-failure
-- The attempt failed, under the lease only: the next one waits :delay seconds, the
-- subscription is failing when :exhausted or disabled when :gone, and the lease goes back
-- (a subscription in backoff holds no worker). The attempt is recorded.
WITH failed AS (
    UPDATE webhooks
    SET failures = failures + 1,
        next_attempt_at = now() + make_interval(secs => :delay),
        failing_since = coalesce(failing_since, now()),
        status = CASE WHEN :gone THEN 'disabled' WHEN :exhausted THEN 'failing' ELSE status END,
        lease_owner = NULL, lease_until = NULL
    WHERE id = :webhook_id AND lease_owner = :owner AND delivery_id = :delivery_id
    RETURNING id
)
INSERT INTO webhook_attempts
    (webhook_id, at, first_position, last_position, status_code, error, duration_ms)
SELECT id, :at, :first_position, :last_position, :status_code, :error, :duration_ms
FROM failed
RETURNING webhook_id;

-- name: release-leases
-- The leases given back (caught up, or shutting down), so any process may claim at once.
UPDATE webhooks SET lease_owner = NULL, lease_until = NULL
WHERE lease_owner = ANY(:owners::uuid[]);

-- name: select-webhook-lags
-- How many matching changes each live subscription has yet to acknowledge.
SELECT w.id, webhook_lag(w.cursor_position, w.entities) AS lag
FROM webhooks AS w
WHERE w.status IN ('active', 'failing');

-- name: count-live-webhooks
SELECT count(*) FROM webhooks WHERE status IN ('active', 'failing');

-- name: expire-webhook-attempts
-- Attempts are kept 7 days.
DELETE FROM webhook_attempts WHERE at < now() - interval '7 days';
