-- Nothing to undo: validating changed no schema, and 0006's rollback drops the constraint.
SELECT 1;
