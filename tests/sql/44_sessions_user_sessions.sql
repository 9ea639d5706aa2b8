-- api.get_user_sessions: one user's sessions overlapping a range, newest first, whole
-- lives with the in-range part as runtime, active ones flagged.
BEGIN;
\ir _setup.sql
SET LOCAL TimeZone = 'UTC';
SELECT plan(10);

-- A session observed every 5 minutes over [p_start, p_end] (p_end included).
CREATE FUNCTION tests.session(p_email text, p_pod text, p_node text, p_start timestamptz, p_end timestamptz)
RETURNS json LANGUAGE sql AS $$
    SELECT api.ingest_container_observations(jsonb_agg(jsonb_build_object(
               'observed_at', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               'user_email', p_email, 'pod_name', p_pod, 'node_name', p_node,
               'container_base', 'jupyter/scipy-notebook', 'container_version', '2024.05',
               'age_seconds', extract(epoch FROM t - p_start)::integer)))
      FROM (SELECT generate_series(p_start + interval '5 minutes', p_end, interval '5 minutes') AS t
            UNION SELECT p_end) g
$$;

SELECT tests.session('dee@example.org', 'jupyter-dee', 'cpu-1', '2024-03-04T08:00Z', '2024-03-04T09:00Z');
SELECT tests.session('dee@example.org', 'jupyter-dee', 'gpu-v100-2', '2024-03-04T10:00Z', '2024-03-04T12:30Z');
SELECT tests.session('eve@example.org', 'jupyter-eve', 'cpu-1', '2024-03-04T08:00Z', '2024-03-04T18:00Z');

SELECT results_eq(
    $$ SELECT * FROM api.get_user_sessions('dee@example.org', '2024-03-04T00:00Z', '2024-03-05T00:00Z') $$,
    $$ VALUES ('2024-03-04 10:00+00'::timestamptz, '2024-03-04 12:30+00'::timestamptz, 2.5000,
               'jupyter-dee', 'gpu-v100-2', 'jupyter/scipy-notebook', '2024.05', false),
              ('2024-03-04 08:00+00'::timestamptz, '2024-03-04 09:00+00'::timestamptz, 1.0000,
               'jupyter-dee', 'cpu-1', 'jupyter/scipy-notebook', '2024.05', false) $$,
    'a user''s sessions, newest first');

SELECT results_eq(
    $$ SELECT session_start, session_end, runtime_hours
         FROM api.get_user_sessions('dee@example.org', '2024-03-04T08:30Z', '2024-03-04T11:00Z') $$,
    $$ VALUES ('2024-03-04 10:00+00'::timestamptz, '2024-03-04 12:30+00'::timestamptz, 1.0000),
              ('2024-03-04 08:00+00'::timestamptz, '2024-03-04 09:00+00'::timestamptz, 0.5000) $$,
    'start and end are the whole life; runtime_hours is the part inside the range');

SELECT is((SELECT count(*) FROM api.get_user_sessions(' DEE@Example.org ', '2024-03-04T00:00Z', '2024-03-05T00:00Z')),
          2::bigint, 'the email matches case-insensitively');
SELECT is_empty($$ SELECT * FROM api.get_user_sessions('nobody@example.org', '2024-03-04T00:00Z', '2024-03-05T00:00Z') $$,
                'an unknown user has no sessions');
SELECT is_empty($$ SELECT * FROM api.get_user_sessions('dee@example.org', '2024-03-04T09:00Z', '2024-03-04T10:00Z') $$,
                'a range between two sessions is empty');
SELECT throws_ok($$ SELECT * FROM api.get_user_sessions(NULL) $$,
                 '22023', 'p_user_email is required', 'the email is required');

-- Active: seen by the collector in the last 15 minutes.
SELECT tests.session('dee@example.org', 'jupyter-dee', 'cpu-1',
                     date_trunc('minute', now()) - interval '2 hours', date_trunc('minute', now()) - interval '1 minute');
SELECT tests.session('dee@example.org', 'jupyter-dee--old', 'cpu-1',
                     date_trunc('minute', now()) - interval '5 hours', date_trunc('minute', now()) - interval '3 hours');
SELECT results_eq(
    $$ SELECT pod_name, active FROM api.get_user_sessions('dee@example.org') $$,
    $$ VALUES ('jupyter-dee', true), ('jupyter-dee--old', false) $$,
    'defaults cover the last 7 days: the running session is active, the ended one is not');
SELECT is((SELECT round(runtime_hours, 2) FROM api.get_user_sessions('dee@example.org') WHERE active), 1.98,
          'an active session counts up to its last observation');
SELECT is((SELECT count(*) FROM api.get_user_sessions('dee@example.org', p_to => '2024-03-05T00:00Z')),
          2::bigint, 'p_from defaults to 7 days before p_to');
SELECT results_eq(
    $$ SELECT DISTINCT pg_typeof(session_start)::text, pg_typeof(runtime_hours)::text, pg_typeof(active)::text
         FROM api.get_user_sessions('dee@example.org') $$,
    $$ VALUES ('timestamp with time zone', 'numeric', 'boolean') $$,
    'column types');

SELECT * FROM finish();
ROLLBACK;
