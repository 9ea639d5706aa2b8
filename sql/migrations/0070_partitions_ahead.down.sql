-- Nothing to undo: the partitions hold data by now, and ingest would create them anyway.
SELECT 1;
