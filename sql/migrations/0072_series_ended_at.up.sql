-- A Prometheus stale marker ends its series (docs/INGEST.md, "Non-finite samples"): the
-- time of the latest marker received for the series. The series counts as gone while no
-- sample is later than this; "latest" reads leave it out. NULL: never ended.
ALTER TABLE metrics.series ADD COLUMN ended_at timestamptz;

COMMENT ON COLUMN metrics.series.ended_at IS
    'Time of the latest stale marker received for the series (NULL: none); the series has gone while no sample is later.';
