DROP TRIGGER IF EXISTS data_version ON sessions.observations;
DROP TRIGGER IF EXISTS data_version ON metrics.excluded_addresses;
DROP TRIGGER IF EXISTS data_version ON metrics.samples;
DROP FUNCTION IF EXISTS metrics.table_data_changed();
DROP FUNCTION IF EXISTS metrics.samples_data_changed();
DROP FUNCTION IF EXISTS metrics.bump_data_versions(text[]);
REVOKE USAGE ON SCHEMA metrics_rpc FROM authenticator, metrics_owner;
DROP SEQUENCE IF EXISTS metrics_rpc.data_version_seq;
DROP TABLE IF EXISTS metrics_rpc.data_versions;
