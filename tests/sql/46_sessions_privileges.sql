-- Per-role privileges of the sessions functions: reads for web_anon and writer, ingest
-- for writer only, nothing for PUBLIC, no direct table access for either role.
BEGIN;
\ir _setup.sql
SET LOCAL TimeZone = 'UTC';
SELECT plan(33);

CREATE TEMP TABLE read_fns (sig text) ON COMMIT DROP;
INSERT INTO read_fns VALUES
    ('api.get_runtime_by_user(timestamptz, timestamptz, integer)'),
    ('api.get_user_sessions(text, timestamptz, timestamptz)'),
    ('api.get_active_users(interval, timestamptz, timestamptz)'),
    ('api.get_node_usage(interval, timestamptz, timestamptz)'),
    ('api.get_image_usage(interval, timestamptz, timestamptz)');

-- Shape: read functions STABLE, SECURITY DEFINER, search_path pinned; grants exact.
SELECT is(p.provolatile::text, 's', p.oid::regprocedure || ' is STABLE')
  FROM read_fns f JOIN pg_proc p ON p.oid = f.sig::regprocedure ORDER BY f.sig;
SELECT ok(p.prosecdef AND EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%'),
          p.oid::regprocedure || ' is SECURITY DEFINER with a pinned search_path')
  FROM read_fns f JOIN pg_proc p ON p.oid = f.sig::regprocedure ORDER BY f.sig;
SELECT set_eq(format($$ SELECT a.grantee::regrole::text FROM pg_proc p,
                               aclexplode(p.proacl) a
                         WHERE p.oid = %L::regprocedure AND a.privilege_type = 'EXECUTE'
                           AND a.grantee <> p.proowner $$, f.sig),
              ARRAY['web_anon', 'writer'], f.sig || ': EXECUTE for web_anon and writer only')
  FROM read_fns f ORDER BY f.sig;

SELECT is((SELECT provolatile::text FROM pg_proc
            WHERE oid = 'api.ingest_container_observations(jsonb)'::regprocedure), 'v',
          'the ingest function is VOLATILE (POST only over HTTP)');
SELECT ok((SELECT prosecdef AND EXISTS (SELECT FROM unnest(proconfig) c WHERE c LIKE 'search_path=%')
             FROM pg_proc WHERE oid = 'api.ingest_container_observations(jsonb)'::regprocedure),
          'the ingest function is SECURITY DEFINER with a pinned search_path');
SELECT function_privs_are('api', 'ingest_container_observations', ARRAY['jsonb'], 'writer', ARRAY['EXECUTE'],
                          'writer may ingest');
SELECT function_privs_are('api', 'ingest_container_observations', ARRAY['jsonb'], 'web_anon', ARRAY[]::text[],
                          'web_anon may not ingest');
SELECT is_empty($$
    SELECT p.oid::regprocedure FROM pg_proc p
     WHERE p.pronamespace = 'sessions'::regnamespace
       AND (has_function_privilege('web_anon', p.oid, 'EXECUTE')
            OR has_function_privilege('writer', p.oid, 'EXECUTE')) $$,
    'internal sessions.* functions are not executable by the request roles');

-- Behaviour as web_anon.
SELECT tests.authenticate_as('web_anon');
SELECT lives_ok($$ SELECT * FROM api.get_runtime_by_user() $$, 'web_anon: get_runtime_by_user');
SELECT lives_ok($$ SELECT * FROM api.get_user_sessions('ann@example.org') $$, 'web_anon: get_user_sessions');
SELECT lives_ok($$ SELECT * FROM api.get_active_users() $$, 'web_anon: get_active_users');
SELECT lives_ok($$ SELECT * FROM api.get_node_usage() $$, 'web_anon: get_node_usage');
SELECT lives_ok($$ SELECT * FROM api.get_image_usage() $$, 'web_anon: get_image_usage');
SELECT throws_ok($$ SELECT api.ingest_container_observations('[]') $$, '42501', NULL,
                 'web_anon cannot ingest');
SELECT throws_ok($$ SELECT * FROM sessions.sessions $$, '42501', NULL, 'web_anon cannot read sessions directly');
SELECT throws_ok($$ SELECT * FROM sessions.users $$, '42501', NULL, 'web_anon cannot read users (emails) directly');
SELECT tests.clear_authentication();

-- Behaviour as writer.
SELECT tests.authenticate_as('writer', 'collector');
SELECT lives_ok($$ SELECT api.ingest_container_observations(jsonb_build_array(jsonb_build_object(
                       'observed_at', '2024-03-04T10:05:00Z', 'user_email', 'ann@example.org',
                       'pod_name', 'jupyter-ann', 'node_name', 'cpu-1',
                       'container_base', 'jupyter/base-notebook', 'age_seconds', 300))) $$,
                'writer can ingest');
SELECT is((SELECT total_hours FROM api.get_runtime_by_user('2024-03-04T00:00Z', '2024-03-05T00:00Z')),
          0.0833, 'writer can read what it wrote');
SELECT throws_ok($$ INSERT INTO sessions.observations VALUES (now(), 1, 'p', 'n', 'b', 'v', 1) $$,
                 '42501', NULL, 'writer cannot write observations around the ingest function');
SELECT throws_ok($$ DELETE FROM sessions.node_classes $$, '42501', NULL,
                 'writer cannot change node classes');
SELECT throws_ok($$ SELECT sessions.ensure_observation_partitions(now(), now()) $$, '42501', NULL,
                 'writer cannot create partitions directly');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;
