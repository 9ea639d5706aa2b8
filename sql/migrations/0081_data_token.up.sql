-- The data token of the response cache (docs/CACHING.md): one value that identifies the
-- state of metrics_rpc.data_versions. The API reads it in the same statement as a
-- cacheable call, on whichever server runs it (a read replica too), so a cached answer
-- carries the version of exactly the data it was computed from; and on the primary, to
-- check that an entry is still current. A hash of every (domain, version) pair rather
-- than their sum: a sum can be equal for two different states (a replica that replayed
-- write A but not B, the primary showing B but not yet A).
--
-- Any role the API switches to calls it, so it lives in a schema of its own that PUBLIC
-- may use (metrics_rpc, the migrator's bookkeeping, is closed to PUBLIC), runs as
-- metrics_owner and shows nothing but the token.
CREATE SCHEMA metrics_rpc_cache;
GRANT USAGE ON SCHEMA metrics_rpc_cache TO PUBLIC;

-- STABLE: it sees the snapshot of the statement that calls it, as the called function does.
CREATE FUNCTION metrics_rpc_cache.data_token() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT hashtextextended(
        coalesce(string_agg(domain || '=' || version, ',' ORDER BY domain COLLATE "C"), ''),
        0)
    FROM metrics_rpc.data_versions
$$;
ALTER FUNCTION metrics_rpc_cache.data_token() OWNER TO metrics_owner;
GRANT EXECUTE ON FUNCTION metrics_rpc_cache.data_token() TO PUBLIC;
