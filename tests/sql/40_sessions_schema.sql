-- Container sessions: the shape of the data model (schema, tables, keys, partitioning,
-- node classes as data) and that none of it is reachable by the request roles directly.
BEGIN;
\ir _setup.sql
SET LOCAL TimeZone = 'UTC';
SELECT plan(27);

SELECT has_schema('sessions');
SELECT schema_privs_are('sessions', 'web_anon', ARRAY[]::text[], 'web_anon has no access to schema sessions');
SELECT schema_privs_are('sessions', 'writer', ARRAY[]::text[], 'writer has no access to schema sessions');

SELECT has_table('sessions', 'users', 'users table');
SELECT col_is_pk('sessions', 'users', 'user_id', 'users are keyed by user_id');
SELECT col_is_unique('sessions', 'users', 'email', 'one user per email');
SELECT columns_are('sessions', 'users', ARRAY['user_id', 'email', 'name', 'first_seen', 'last_seen']);

SELECT has_table('sessions', 'observations', 'observations table');
SELECT is_partitioned('sessions', 'observations', 'observations are partitioned');
SELECT is((SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'sessions.observations'::regclass),
          'r', 'partitioned by range');
SELECT is((SELECT a.attname::text FROM pg_partitioned_table p
             JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
            WHERE p.partrelid = 'sessions.observations'::regclass),
          'observed_at', 'the partition key is observed_at');
SELECT col_is_pk('sessions', 'observations', ARRAY['user_id', 'pod_name', 'observed_at'],
                 'exactly once on (user, pod, time)');
SELECT columns_are('sessions', 'observations',
                   ARRAY['observed_at', 'user_id', 'pod_name', 'node_name', 'container_base',
                         'container_version', 'age_seconds']);
SELECT fk_ok('sessions', 'observations', 'user_id', 'sessions', 'users', 'user_id');

SELECT has_table('sessions', 'sessions', 'sessions table');
SELECT col_is_unique('sessions', 'sessions', ARRAY['user_id', 'pod_name', 'node_name', 'start_minute'],
                     'a session is one (user, pod, node, start minute)');
SELECT has_trigger('sessions', 'observations', 'observations_apply',
                   'sessions are kept current by a trigger on observations');
SELECT is((SELECT tgtype & 1 = 0 FROM pg_trigger WHERE tgname = 'observations_apply'), true,
          'the trigger is statement-level');
SELECT ok(NOT EXISTS (SELECT FROM pg_matviews WHERE schemaname = 'sessions'),
          'no materialized view to refresh');

SELECT has_table('sessions', 'node_classes', 'node classes are a table (data, not code)');
SELECT set_eq($$ SELECT pattern FROM sessions.node_classes WHERE node_class = 'gpu' $$,
              ARRAY['%a100%', '%h100%', '%h200%', '%v100%', '%gpu%'],
              'default GPU patterns');
SELECT is(sessions.node_class_of('gke-hub-a100-pool-7f3c'), 'gpu', 'an A100 node is gpu');
SELECT is(sessions.node_class_of('node-H100-02'), 'gpu', 'patterns match case-insensitively');
SELECT is(sessions.node_class_of('cpu-standard-8'), 'cpu', 'an unmatched node is cpu');

-- The request roles never touch the tables; only SECURITY DEFINER functions do.
SELECT table_privs_are('sessions', 'observations', 'writer', ARRAY[]::text[],
                       'writer has no direct privilege on observations');
SELECT table_privs_are('sessions', 'sessions', 'web_anon', ARRAY[]::text[],
                       'web_anon has no direct privilege on sessions');
SELECT table_privs_are('sessions', 'users', 'web_anon', ARRAY[]::text[],
                       'web_anon has no direct privilege on users');

SELECT * FROM finish();
ROLLBACK;
