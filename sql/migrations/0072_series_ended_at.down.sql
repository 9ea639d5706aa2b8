ALTER TABLE metrics.series DROP COLUMN ended_at;
