-- Data versions for the response cache: every write that changes what a read returns
-- bumps its domain in the writer's transaction; exact replays bump nothing; only the
-- owner writes them and the API's authenticator only reads them.
BEGIN;
\ir _setup.sql
SET LOCAL TimeZone = 'UTC';
SELECT plan(10);

SELECT has_table('metrics_rpc', 'data_versions', 'the data versions table exists');
SELECT ok(has_table_privilege('authenticator', 'metrics_rpc.data_versions', 'SELECT'),
          'the authenticator reads the data versions');
SELECT ok(NOT has_table_privilege('authenticator', 'metrics_rpc.data_versions', 'INSERT, UPDATE'),
          'the authenticator cannot change them');
SELECT ok(NOT has_function_privilege('web_anon', 'metrics.bump_data_versions(text[])', 'EXECUTE')
          AND NOT has_function_privilege('writer', 'metrics.bump_data_versions(text[])', 'EXECUTE'),
          'the API roles cannot bump a version themselves');
SELECT is((SELECT proowner::regrole::text FROM pg_proc
           WHERE oid = 'metrics.bump_data_versions(text[])'::regprocedure),
          'metrics_owner', 'the bump runs as metrics_owner');

CREATE TEMP TABLE before AS SELECT domain, version FROM metrics_rpc.data_versions;
SELECT * FROM tests.write_samples('[["2026-10-08 09:00:00+00", "block_height", {"manifest_tier": "mainnet", "instance": "v"}, 1]]');
SELECT ok((SELECT version FROM metrics_rpc.data_versions WHERE domain = 'mainnet')
          > coalesce((SELECT version FROM before WHERE domain = 'mainnet'), 0),
          'a sample write bumps its schema''s version');
SELECT is((SELECT count(*) FROM metrics_rpc.data_versions d JOIN before b USING (domain)
           WHERE d.domain <> 'mainnet' AND d.version <> b.version), 0::bigint,
          'other domains keep their version');

CREATE TEMP TABLE after_write AS SELECT domain, version FROM metrics_rpc.data_versions;
SELECT * FROM tests.write_samples('[["2026-10-08 09:00:00+00", "block_height", {"manifest_tier": "mainnet", "instance": "v"}, 1]]');
SELECT set_eq($$ SELECT domain, version FROM metrics_rpc.data_versions $$,
              $$ SELECT domain, version FROM after_write $$,
              'an exact replay writes nothing and bumps nothing');

SELECT tests.authenticate_as('writer', 'cache');
SELECT api.add_excluded_address('manifest1cache');
SELECT tests.clear_authentication();
SELECT ok(EXISTS (SELECT FROM metrics_rpc.data_versions WHERE domain = 'metrics.excluded_addresses'),
          'an excluded address edit bumps metrics.excluded_addresses');

SELECT tests.authenticate_as('writer', 'collector');
SELECT api.ingest_container_observations(jsonb_build_array(jsonb_build_object(
    'observed_at', '2026-10-08T10:05:00Z', 'user_email', 'ada@example.org',
    'pod_name', 'jupyter-ada', 'node_name', 'cpu-1', 'container_base', 'quay.io/x',
    'container_version', '1', 'age_seconds', 300)));
SELECT tests.clear_authentication();
SELECT ok(EXISTS (SELECT FROM metrics_rpc.data_versions WHERE domain = 'sessions.observations'),
          'container observations bump sessions.observations');

SELECT * FROM finish();
ROLLBACK;
