-- Nothing to undo: validating changed no schema, and 0016's rollback drops the columns
-- with their constraints.
SELECT 1;
