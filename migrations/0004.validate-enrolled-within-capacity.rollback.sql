-- Nothing to undo: validating changed no schema, and 0003's rollback drops the constraint.
SELECT 1;
