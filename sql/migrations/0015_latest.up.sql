-- Latest state, maintained with the rollups, so "latest" functions read one row per
-- metric instead of searching rollups.
CREATE TABLE metrics.latest_by_name (
    schema      text        NOT NULL,
    name        text        NOT NULL,
    last_time   timestamptz NOT NULL,
    last_series bigint      NOT NULL,
    last_value  numeric     NOT NULL,
    -- running total of every sample ever written (the cumsum "latest" value)
    total_sum   numeric     NOT NULL,
    n           bigint      NOT NULL,
    PRIMARY KEY (schema, name)
);

-- Per series, only for the `geo` schema (latest coordinates per instance); other
-- schemas would pay one upsert per series per batch for nothing.
CREATE TABLE metrics.latest_by_series (
    series_id  bigint      PRIMARY KEY REFERENCES metrics.series (id) ON DELETE CASCADE,
    last_time  timestamptz NOT NULL,
    last_value numeric     NOT NULL
);

COMMENT ON TABLE metrics.latest_by_name IS 'Latest sample and running total per (schema, name).';
COMMENT ON TABLE metrics.latest_by_series IS 'Latest sample per series of the geo schema.';
