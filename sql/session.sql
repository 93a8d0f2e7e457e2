-- name: set-transaction-timeouts
-- Server-side limits for the current transaction only (SET LOCAL), so they never leak to
-- another client through a transaction-pooling PgBouncer.
SELECT set_config('statement_timeout', :statement_timeout, true),
       set_config('lock_timeout', :lock_timeout, true),
       set_config('idle_in_transaction_session_timeout', :idle_timeout, true);
