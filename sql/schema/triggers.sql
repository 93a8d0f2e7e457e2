-- Every trigger, as it is now, table by table in the order Postgres fires them: BEFORE row
-- triggers, then AFTER row triggers, then AFTER statement triggers, and within each of
-- those, for one event, in the order of their names. Where the order matters, the name says
-- it (courses_then_refill_seats fires after courses_feed). tests/test_schema.py checks that
-- Postgres's order is the one written here.
--
-- CREATE OR REPLACE TRIGGER takes a SHARE ROW EXCLUSIVE lock on its table (writes wait,
-- reads go on) until the transaction that applies this folder commits.

-- students: each change in the feed.
CREATE OR REPLACE TRIGGER students_feed
AFTER INSERT OR UPDATE OR DELETE ON students
FOR EACH ROW EXECUTE FUNCTION record_change('student');

-- courses: each change in the feed, then a raised (or removed) capacity's promotions, so
-- that the feed's last change of the course carries the counts after them.
CREATE OR REPLACE TRIGGER courses_feed
AFTER INSERT OR UPDATE OR DELETE ON courses
FOR EACH ROW EXECUTE FUNCTION record_change('course');

CREATE OR REPLACE TRIGGER courses_then_refill_seats
AFTER UPDATE OF capacity ON courses
FOR EACH ROW
WHEN (NEW.waitlisted_count > 0
      AND (NEW.capacity IS NULL OR NEW.capacity > coalesce(OLD.capacity, NEW.capacity)))
EXECUTE FUNCTION fill_raised_capacity();

-- student_courses: a status move is checked and stamped, then a waitlisting takes its
-- ticket (BEFORE, per row); then, once per statement, the counts, promotions, feed and
-- history (book_enrollments). Postgres allows a transition table only on a trigger for one
-- event and with no column list, hence three (each fires for its event alone).
CREATE OR REPLACE TRIGGER student_courses_transition
BEFORE UPDATE OF status ON student_courses
FOR EACH ROW EXECUTE FUNCTION check_enrollment_transition();

CREATE OR REPLACE TRIGGER student_courses_waitlist
BEFORE INSERT OR UPDATE OF status ON student_courses
FOR EACH ROW EXECUTE FUNCTION stamp_waitlist_ticket();

CREATE OR REPLACE TRIGGER student_courses_deleted
AFTER DELETE ON student_courses
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION book_enrollments();

CREATE OR REPLACE TRIGGER student_courses_inserted
AFTER INSERT ON student_courses
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION book_enrollments();

CREATE OR REPLACE TRIGGER student_courses_updated
AFTER UPDATE ON student_courses
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION book_enrollments();
