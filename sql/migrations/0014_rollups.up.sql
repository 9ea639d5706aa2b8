-- Rollups per (schema, metric name, bucket) in three tiers, maintained by
-- ingest.write_samples in the same transaction as the raw insert.
-- "last" is the sample with the greatest (time, series_id): a deterministic tie-break,
-- so a late sample replaces the bucket's last value only when it really is later.
-- sum_value and n serve the cumulative (cumsum) metrics.
CREATE TABLE metrics.rollup_1m (
    schema      text        NOT NULL,
    name        text        NOT NULL,
    bucket      timestamptz NOT NULL,
    last_time   timestamptz NOT NULL,
    last_series bigint      NOT NULL,
    last_value  numeric     NOT NULL,
    sum_value   numeric     NOT NULL,
    n           bigint      NOT NULL,
    PRIMARY KEY (schema, name, bucket)
) PARTITION BY LIST (schema);

-- Same retention classes and monthly partitions as metrics.samples.
CREATE TABLE metrics.rollup_1m_cumsum PARTITION OF metrics.rollup_1m
    FOR VALUES IN ('cumsum') PARTITION BY RANGE (bucket);
CREATE TABLE metrics.rollup_1m_network PARTITION OF metrics.rollup_1m
    DEFAULT PARTITION BY RANGE (bucket);

-- Coarser tiers answer long ranges (a year at 1-day buckets reads ~365 rows per metric).
-- Small enough to stay unpartitioned; retention deletes their old network rows.
CREATE TABLE metrics.rollup_1h (
    schema      text        NOT NULL,
    name        text        NOT NULL,
    bucket      timestamptz NOT NULL,
    last_time   timestamptz NOT NULL,
    last_series bigint      NOT NULL,
    last_value  numeric     NOT NULL,
    sum_value   numeric     NOT NULL,
    n           bigint      NOT NULL,
    PRIMARY KEY (schema, name, bucket)
);

CREATE TABLE metrics.rollup_1d (
    schema      text        NOT NULL,
    name        text        NOT NULL,
    bucket      timestamptz NOT NULL,
    last_time   timestamptz NOT NULL,
    last_series bigint      NOT NULL,
    last_value  numeric     NOT NULL,
    sum_value   numeric     NOT NULL,
    n           bigint      NOT NULL,
    PRIMARY KEY (schema, name, bucket)
);

COMMENT ON TABLE metrics.rollup_1m IS 'One-minute rollups per (schema, name): last value, sum, count.';
COMMENT ON TABLE metrics.rollup_1h IS 'One-hour rollups, same shape as rollup_1m.';
COMMENT ON TABLE metrics.rollup_1d IS 'One-day (UTC) rollups, same shape as rollup_1m.';
