-- Webhook subscriptions and their delivery attempts (API.md v1.3 "Webhooks"). Delivery
-- state lives in the subscription's row, so that any process may take a subscription over:
-- the cursor acknowledged, the delivery being sent (its webhook-id and the end of its
-- range, kept until it succeeds, so a retry re-sends the same range under the same id),
-- the backoff, and a lease (an owner token and an expiry) that only its holder may commit
-- under. Two new tables: nothing waits on them.
-- depends: 0018.validate-external-ids
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE TABLE IF NOT EXISTS webhooks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url text NOT NULL CHECK (length(url) <= 2000),
    entities text[] NOT NULL CHECK (
        cardinality(entities) > 0 AND entities <@ ARRAY['student', 'course', 'enrollment']
    ),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 200),
    status text NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'paused', 'failing', 'disabled', 'expired')),
    -- The last feed position the subscriber acknowledged.
    cursor_position bigint NOT NULL CHECK (cursor_position >= 0),
    -- whsec_...; the one before a rotation signs too, until previous_secret_until.
    secret text NOT NULL,
    previous_secret text,
    previous_secret_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- The delivery being sent: its webhook-id and the last position of its range.
    delivery_id text,
    delivery_through bigint,
    CHECK ((delivery_id IS NULL) = (delivery_through IS NULL)),
    -- Failed attempts of that delivery in a row, when to try next, since when it fails.
    failures bigint NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    failing_since timestamptz,
    -- Who delivers it now, and until when; a fresh token per claim.
    lease_owner uuid,
    lease_until timestamptz
);

CREATE TABLE IF NOT EXISTS webhook_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    at timestamptz NOT NULL DEFAULT now(),
    first_position bigint NOT NULL,
    last_position bigint NOT NULL,
    status_code bigint,
    error text,
    duration_ms bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_attempts_webhook_id_idx ON webhook_attempts (webhook_id, id);
CREATE INDEX IF NOT EXISTS webhook_attempts_at_idx ON webhook_attempts (at);
