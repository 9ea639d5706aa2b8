-- Private schemas of the metrics data model. Neither is exposed over HTTP:
-- `metrics` holds storage (samples, series, rollups, latest state, excluded addresses),
-- `ingest` holds the write path the ingest endpoint calls as `writer`.
CREATE SCHEMA IF NOT EXISTS metrics;
CREATE SCHEMA IF NOT EXISTS ingest;

REVOKE ALL ON SCHEMA metrics FROM PUBLIC;
REVOKE ALL ON SCHEMA ingest FROM PUBLIC;
-- writer may call the (SECURITY DEFINER) functions in ingest; it never sees metrics.
GRANT USAGE ON SCHEMA ingest TO writer;
