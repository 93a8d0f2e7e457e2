-- Undoes 0014: the refill's trigger gets its old name back.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- squawk-ignore renaming-object
ALTER TRIGGER courses_then_refill_seats ON courses RENAME TO courses_capacity_raised;
