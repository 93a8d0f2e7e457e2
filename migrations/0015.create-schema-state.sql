-- Which version of sql/schema/ (the current functions and triggers) the database holds: the
-- checksum of its files when `python -m service migrate` last applied them. A later run
-- applies them again only when they changed, or when it applied a migration (a migration
-- may redefine what the folder defines).
-- depends: 0014.record-course-before-refilling
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE TABLE IF NOT EXISTS schema_state (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
