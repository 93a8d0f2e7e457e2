-- A course's change in the feed must come before the promotions a raised capacity makes.
-- Postgres fires a row's AFTER triggers in name order: courses_capacity_raised (0010) ran
-- before courses_feed (0008), so its promotions' count update wrote the course's change
-- first and courses_feed then wrote the row as the capacity update left it, before those
-- promotions: the feed's last change of the course had stale counts, and a replay too.
-- Renamed, the refill fires after the feed's trigger. Only the catalog changes.
-- depends: 0013.book-enrollments-per-statement
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- No client names a trigger; only the order they fire in changes.
-- squawk-ignore renaming-object
ALTER TRIGGER courses_capacity_raised ON courses RENAME TO courses_then_refill_seats;
