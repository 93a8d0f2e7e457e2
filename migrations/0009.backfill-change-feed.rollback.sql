-- Nothing to undo on its own: the baseline is ordinary feed entries, and 0008's rollback
-- drops the feed.
SELECT 1;
