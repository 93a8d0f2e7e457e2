-- Nothing to undo: validating changed no schema, and 0010's rollback drops the constraint.
SELECT 1;
