-- Validates the waitlist's CHECK that 0010 added NOT VALID: a scan under a lock that lets
-- reads and writes go on.
-- depends: 0011.index-waitlists
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE courses VALIDATE CONSTRAINT courses_waitlisted_within_capacity;
