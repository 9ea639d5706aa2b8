DROP VIEW IF EXISTS metrics_rpc_cache.data_token;
DROP SCHEMA IF EXISTS metrics_rpc_cache;
