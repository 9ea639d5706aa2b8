-- The data token: readable by every API role (it is read in their cacheable calls), the same
-- for the same versions, different after any bump.
BEGIN;
\ir _setup.sql
SET LOCAL TimeZone = 'UTC';
SELECT plan(7);

SELECT ok(has_table_privilege('web_anon', 'metrics_rpc_cache.data_token', 'SELECT')
          AND has_table_privilege('writer', 'metrics_rpc_cache.data_token', 'SELECT')
          AND has_table_privilege('authenticator', 'metrics_rpc_cache.data_token', 'SELECT'),
          'every API role may read the data token');
SELECT is((SELECT relowner::regrole::text FROM pg_class
           WHERE oid = 'metrics_rpc_cache.data_token'::regclass),
          'metrics_owner', 'the token is read with metrics_owner''s rights');
SELECT ok(NOT has_table_privilege('web_anon', 'metrics_rpc.data_versions', 'SELECT'),
          'the anonymous role still cannot read the versions table itself');

CREATE TEMP TABLE t0 AS SELECT token FROM metrics_rpc_cache.data_token;
GRANT SELECT ON t0 TO web_anon;
SELECT tests.authenticate_as('web_anon');
SELECT is((SELECT token FROM metrics_rpc_cache.data_token), (SELECT token FROM t0),
          'the anonymous role reads the same token');
SELECT tests.clear_authentication();

SELECT * FROM tests.write_samples('[["2026-10-08 09:00:00+00", "block_height", {"manifest_tier": "mainnet", "instance": "tok"}, 1]]');
CREATE TEMP TABLE t1 AS SELECT token FROM metrics_rpc_cache.data_token;
SELECT isnt((SELECT token FROM t1), (SELECT token FROM t0), 'a write changes the token');
SELECT * FROM tests.write_samples('[["2026-10-08 09:00:00+00", "block_height", {"manifest_tier": "mainnet", "instance": "tok"}, 1]]');
SELECT is((SELECT token FROM metrics_rpc_cache.data_token), (SELECT token FROM t1),
          'an exact replay (nothing written) keeps it');

-- two domains bumped in either order give different states, hence different tokens
SELECT metrics.bump_data_versions(ARRAY['tok_a']);
CREATE TEMP TABLE ta AS SELECT token FROM metrics_rpc_cache.data_token;
SELECT metrics.bump_data_versions(ARRAY['tok_b']);
SELECT isnt((SELECT token FROM metrics_rpc_cache.data_token), (SELECT token FROM ta),
            'each bump gives a new token');

SELECT * FROM finish();
ROLLBACK;
