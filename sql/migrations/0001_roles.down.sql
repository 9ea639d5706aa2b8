-- Roles are cluster-wide and may serve other databases: only this database's grants go.
REVOKE USAGE ON SCHEMA api FROM web_anon, writer;
DROP SCHEMA IF EXISTS api;
