-- What the service tells the triggers about the change a transaction makes, and what they
-- tell it back: the one place where these transaction-local settings are named. Local to
-- the transaction (set_config's third argument), so they never leak to another client
-- through a transaction-pooling PgBouncer.
--
-- In: who acts, the request and why, set by set_change_context() in the statement that
-- makes the change (sql/enrollments.sql) and read by the history trigger (enrollments.sql).
-- Out: the pairs a freed seat went to, noted by promote_waitlisted() and read by the
-- service with promoted_in_this_transaction(), to log each promotion.

CREATE OR REPLACE FUNCTION set_change_context(actor text, request_id text, reason text)
RETURNS boolean
LANGUAGE sql AS $$
    SELECT set_config('enrollment.actor', coalesce(actor, ''), true) IS NOT NULL
       AND set_config('enrollment.request_id', coalesce(request_id, ''), true) IS NOT NULL
       AND set_config('enrollment.reason', coalesce(reason, ''), true) IS NOT NULL
$$;

-- Who made the change: the API key's name, 'anonymous' without keys, 'system' when the
-- service set no one (a change made in psql, say).
CREATE OR REPLACE FUNCTION change_actor() RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(nullif(current_setting('enrollment.actor', true), ''), 'system')
$$;

CREATE OR REPLACE FUNCTION change_request_id() RETURNS text
LANGUAGE sql AS $$
    SELECT nullif(current_setting('enrollment.request_id', true), '')
$$;

CREATE OR REPLACE FUNCTION change_reason() RETURNS text
LANGUAGE sql AS $$
    SELECT nullif(current_setting('enrollment.reason', true), '')
$$;

-- The reason for what the transaction changes next (a promotion's "a seat freed").
CREATE OR REPLACE FUNCTION set_change_reason(reason text) RETURNS void
LANGUAGE sql AS $$
    SELECT set_config('enrollment.reason', coalesce(reason, ''), true);
$$;

-- Adds pairs promoted from a waitlist ("student:course,...") to this transaction's list.
CREATE OR REPLACE FUNCTION note_promoted(pairs text) RETURNS void
LANGUAGE sql AS $$
    SELECT set_config('enrollment.promoted', concat_ws(',',
        nullif(current_setting('enrollment.promoted', true), ''), pairs), true);
$$;

-- The pairs this transaction promoted from a waitlist, in the order they were promoted.
CREATE OR REPLACE FUNCTION promoted_in_this_transaction()
RETURNS TABLE (student_id bigint, course_id bigint)
LANGUAGE sql AS $$
    SELECT split_part(pair, ':', 1)::bigint, split_part(pair, ':', 2)::bigint
    FROM unnest(string_to_array(
        nullif(current_setting('enrollment.promoted', true), ''), ',')) WITH ORDINALITY
        AS listed (pair, n)
    ORDER BY n
$$;
