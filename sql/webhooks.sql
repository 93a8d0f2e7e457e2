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

-- name: claim-webhooks
-- One claim round, one round trip. A subscription whose cursor has fallen out of the feed's
-- retention can no longer be served gap-free: it becomes expired (its delivery dropped)
-- until a PATCH gives it a fresh cursor. Then up to :room subscriptions with changes to
-- deliver and no backoff, lease or pause holding them are leased, each to a fresh owner
-- token for :lease seconds; SKIP LOCKED: processes claiming at once each take others, and
-- none waits. One row with `waiting` (how many active or failing subscriptions no process
-- holds or holds back, as the round began) and the `expired` ids, then one more per claim.
WITH feed AS (
    SELECT last_position, expired_through FROM change_feed_state
), expired AS (
    UPDATE webhooks
    SET status = 'expired', delivery_id = NULL, delivery_through = NULL, failures = 0,
        next_attempt_at = NULL, lease_owner = NULL, lease_until = NULL, updated_at = now()
    WHERE status IN ('active', 'paused', 'failing')
          AND cursor_position < (SELECT expired_through FROM feed)
    RETURNING id
), due AS (
    SELECT w.id
    FROM webhooks AS w, feed
    WHERE w.status IN ('active', 'failing')
          AND (w.lease_until IS NULL OR w.lease_until < now())
          AND (w.next_attempt_at IS NULL OR w.next_attempt_at <= now())
          AND w.cursor_position < feed.last_position
          AND w.cursor_position >= feed.expired_through  -- not one `expired` takes
    ORDER BY w.next_attempt_at NULLS FIRST, w.id
    LIMIT :room
    FOR UPDATE OF w SKIP LOCKED
), claimed AS (
    UPDATE webhooks AS w
    SET lease_owner = gen_random_uuid(), lease_until = now() + make_interval(secs => :lease)
    FROM due
    WHERE w.id = due.id
    RETURNING w.id, w.lease_owner, w.entities, w.failures
)
SELECT (SELECT count(*) FROM webhooks
        WHERE status IN ('active', 'failing')
              AND (lease_until IS NULL OR lease_until < now())
              AND (next_attempt_at IS NULL OR next_attempt_at <= now())) AS waiting,
       (SELECT array_agg(id) FROM expired) AS expired,
       claimed.id, claimed.lease_owner, claimed.entities, claimed.failures
FROM (SELECT) AS one_row
LEFT JOIN claimed ON true;

-- name: take-delivery
-- A delivery's one round trip, under the lease only (no row when it is lost: taken over,
-- or the subscription changed, paused or deleted). The delivery just acknowledged
-- (:acknowledged, its webhook-id; NULL for none) moves the cursor to its end, ends any
-- backoff and is recorded as an attempt. Then, with :take_next, the next is taken: the one
-- in hand when it is to be sent again (same id, same range), else up to :limit matching
-- changes after the cursor under the id :new_id, its range ending at its last change when
-- it is full and at the feed's head when not (so that changes that do not match are passed
-- over too). When none matches, the cursor moves to where the range would end, and no
-- delivery is in hand. The first row holds the subscription as left (`delivery_id` NULL:
-- nothing to send); each row one change of the delivery, in feed order.
WITH current AS (
    SELECT CASE WHEN w.delivery_id = :acknowledged THEN w.delivery_through
                ELSE w.cursor_position END AS after,
           CASE WHEN w.delivery_id = :acknowledged THEN NULL ELSE w.delivery_id END AS held_id,
           CASE WHEN w.delivery_id = :acknowledged THEN NULL
                ELSE w.delivery_through END AS held_through,
           (SELECT last_position FROM change_feed_state) AS head
    FROM webhooks AS w
    WHERE w.id = :webhook_id
), batch AS (
    SELECT c.position, c.at, c.entity, c.op, c.key, c.data
    FROM current, changes AS c
    WHERE :take_next
          AND c.position > current.after
          AND c.position <= coalesce(current.held_through, current.head)
          AND c.entity = ANY(:entities::text[])
    ORDER BY c.position
    LIMIT :limit
), span AS (
    SELECT count(*) AS n, max(position) AS last FROM batch
), taken AS (
    UPDATE webhooks AS w
    SET cursor_position = CASE WHEN :take_next AND span.n = 0
                               THEN greatest(current.after,
                                             coalesce(current.held_through, current.head))
                               ELSE current.after END,
        delivery_id = CASE WHEN span.n > 0 THEN coalesce(current.held_id, :new_id) END,
        delivery_through = CASE WHEN span.n = 0 THEN NULL
                                WHEN current.held_through IS NOT NULL THEN current.held_through
                                WHEN span.n = :limit THEN span.last
                                ELSE current.head END,
        failures = CASE WHEN :acknowledged::text IS NULL THEN w.failures ELSE 0 END,
        next_attempt_at = CASE WHEN :acknowledged::text IS NULL THEN w.next_attempt_at END,
        failing_since = CASE WHEN :acknowledged::text IS NULL THEN w.failing_since END,
        status = CASE WHEN :acknowledged::text IS NOT NULL AND w.status = 'failing' THEN 'active'
                      ELSE w.status END,
        lease_until = now() + make_interval(secs => :lease)
    FROM current, span
    WHERE w.id = :webhook_id AND w.lease_owner = :owner AND w.status IN ('active', 'failing')
    RETURNING w.delivery_id, w.url, w.secret,
              CASE WHEN w.previous_secret_until > now() THEN w.previous_secret END
                  AS previous_secret
), recorded AS (
    INSERT INTO webhook_attempts
        (webhook_id, at, first_position, last_position, status_code, duration_ms)
    SELECT :webhook_id, :at, :first_position, :last_position, :status_code, :duration_ms
    FROM taken
    WHERE :acknowledged::text IS NOT NULL
)
SELECT t.delivery_id, t.url, t.secret, t.previous_secret,
       b.position, b.at, b.entity, b.op, b.key, b.data
FROM taken AS t
LEFT JOIN batch AS b ON t.delivery_id IS NOT NULL
ORDER BY b.position;

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

-- name: expire-webhook-attempts
-- Attempts are kept 7 days.
DELETE FROM webhook_attempts WHERE at < now() - interval '7 days';
