-- The data token: callable by every API role (it runs in their cacheable calls), the same
-- for the same versions, different after any bump, and read in the caller's snapshot.
BEGIN;
\ir _setup.sql
SET LOCAL TimeZone = 'UTC';
SELECT plan(7);

SELECT ok(has_function_privilege('web_anon', 'metrics_rpc_cache.data_token()', 'EXECUTE')
          AND has_function_privilege('writer', 'metrics_rpc_cache.data_token()', 'EXECUTE')
          AND has_function_privilege('authenticator', 'metrics_rpc_cache.data_token()', 'EXECUTE'),
          'every API role may read the data token');
SELECT is((SELECT proowner::regrole::text FROM pg_proc
           WHERE oid = 'metrics_rpc_cache.data_token()'::regprocedure),
          'metrics_owner', 'the token is read as metrics_owner');
SELECT ok(NOT has_table_privilege('web_anon', 'metrics_rpc.data_versions', 'SELECT'),
          'the anonymous role still cannot read the versions table itself');

CREATE TEMP TABLE t0 AS SELECT metrics_rpc_cache.data_token() AS token;
SELECT tests.authenticate_as('web_anon');
SELECT is(metrics_rpc_cache.data_token(), (SELECT token FROM t0),
          'the anonymous role reads the same token');
SELECT tests.clear_authentication();

SELECT * FROM tests.write_samples('[["2026-10-08 09:00:00+00", "block_height", {"manifest_tier": "mainnet", "instance": "tok"}, 1]]');
CREATE TEMP TABLE t1 AS SELECT metrics_rpc_cache.data_token() AS token;
SELECT isnt((SELECT token FROM t1), (SELECT token FROM t0), 'a write changes the token');
SELECT * FROM tests.write_samples('[["2026-10-08 09:00:00+00", "block_height", {"manifest_tier": "mainnet", "instance": "tok"}, 1]]');
SELECT is(metrics_rpc_cache.data_token(), (SELECT token FROM t1),
          'an exact replay (nothing written) keeps it');

-- two domains bumped in either order give different states, hence different tokens
SELECT metrics.bump_data_versions(ARRAY['tok_a']);
CREATE TEMP TABLE ta AS SELECT metrics_rpc_cache.data_token() AS token;
SELECT metrics.bump_data_versions(ARRAY['tok_b']);
SELECT isnt(metrics_rpc_cache.data_token(), (SELECT token FROM ta),
            'each bump gives a new token');

SELECT * FROM finish();
ROLLBACK;
