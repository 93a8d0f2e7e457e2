-- The queues, in ticket order per course: what promotion and the waitlist's positions read.
-- Built CONCURRENTLY, so writes to student_courses go on meanwhile; that cannot run in a
-- transaction, hence this file on its own.
-- transactional: false
-- squawk-disable-assume-in-transaction
-- depends: 0010.add-waitlist
SET lock_timeout = '5s';
SET statement_timeout = '600s';

CREATE INDEX CONCURRENTLY IF NOT EXISTS student_courses_waitlist_idx
    ON student_courses (course_id, waitlist_ticket) WHERE status = 'waitlisted';
