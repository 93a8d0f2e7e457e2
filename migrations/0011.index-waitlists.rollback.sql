-- transactional: false
-- squawk-disable-assume-in-transaction
SET lock_timeout = '5s';
SET statement_timeout = '60s';
DROP INDEX CONCURRENTLY IF EXISTS student_courses_waitlist_idx;
