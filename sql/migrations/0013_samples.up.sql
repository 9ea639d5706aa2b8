-- Raw samples, exactly once per (time, series). A series fixes name and schema, so the
-- key is the DESIGN's (time, series, name, schema). The value is exact: numeric.
--
-- Partitioned by retention class first (cumsum is kept forever, every other schema for
-- one year), then by calendar month (UTC), so retention drops whole tables. Monthly
-- partitions are created by metrics.ensure_partitions (from ingest.write_samples for
-- the months of a batch, and ahead of time by ingest.run_maintenance).
CREATE TABLE metrics.samples (
    time      timestamptz NOT NULL,
    series_id bigint      NOT NULL,
    schema    text        NOT NULL,
    value     numeric     NOT NULL,
    -- time first: inserts append at the right edge of the index.
    PRIMARY KEY (time, series_id, schema)
) PARTITION BY LIST (schema);

CREATE TABLE metrics.samples_cumsum PARTITION OF metrics.samples
    FOR VALUES IN ('cumsum') PARTITION BY RANGE (time);
-- Every other schema (mainnet, testnet, common, geo, and any a new route names).
CREATE TABLE metrics.samples_network PARTITION OF metrics.samples
    DEFAULT PARTITION BY RANGE (time);

COMMENT ON TABLE metrics.samples IS
    'Raw samples, exactly once per (time, series); never read by the API functions.';
