-- The data token of the response cache (docs/CACHING.md): one value that identifies the
-- state of metrics_rpc.data_versions. The API reads it in the same statement as a
-- cacheable call, on whichever server runs it (a read replica too), so a cached answer
-- carries the version of exactly the data it was computed from; and on the primary, to
-- check that an entry is still current. A hash of every (domain, version) pair rather
-- than their sum: a sum can be equal for two different states (a replica that replayed
-- write A but not B, the primary showing B but not yet A).
--
-- Any role the API switches to reads it, so it lives in a schema of its own that PUBLIC
-- may use (metrics_rpc, the migrator's bookkeeping, is closed to PUBLIC). A view rather
-- than a function: it reads the table with its owner's rights and shows nothing but the
-- token, and it is planned with the statement that reads it (a SECURITY DEFINER SQL
-- function is planned again on every call: ~0.1 ms, against ~0.02 ms for the view).
CREATE SCHEMA metrics_rpc_cache;
GRANT USAGE ON SCHEMA metrics_rpc_cache TO PUBLIC;

CREATE VIEW metrics_rpc_cache.data_token AS
SELECT pg_catalog.hashtextextended(
           coalesce(string_agg(domain || '=' || version, ',' ORDER BY domain COLLATE "C"), ''),
           0) AS token
FROM metrics_rpc.data_versions;
ALTER VIEW metrics_rpc_cache.data_token OWNER TO metrics_owner;
GRANT SELECT ON metrics_rpc_cache.data_token TO PUBLIC;
