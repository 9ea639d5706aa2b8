-- Known answers for deriving sessions from observations: one pod life is one session,
-- its runtime the largest age; reused pod names, gaps, node moves and replays.
BEGIN;
\ir _setup.sql
SET LOCAL TimeZone = 'UTC';
SELECT plan(17);

CREATE FUNCTION tests.ingest(p_email text, p_pod text, p_node text, p_rows text)
RETURNS json LANGUAGE sql AS $$
    -- p_rows: 'observed_at=age;observed_at=age;...' on 2024-03-04 (UTC)
    SELECT api.ingest_container_observations(jsonb_agg(jsonb_build_object(
               'observed_at', '2024-03-04T' || split_part(r, '=', 1) || 'Z',
               'user_email', p_email, 'pod_name', p_pod, 'node_name', p_node,
               'container_base', 'quay.io/jupyter/scipy-notebook', 'container_version', '2024-05-27',
               'age_seconds', split_part(r, '=', 2)::integer)))
      FROM unnest(string_to_array(p_rows, ';')) r
$$;
CREATE FUNCTION tests.sessions_of(p_email text)
RETURNS TABLE (node_name text, started_at timestamptz, ended_at timestamptz, runtime_seconds integer)
LANGUAGE sql AS $$
    SELECT s.node_name, s.started_at, s.ended_at, s.runtime_seconds
      FROM sessions.sessions s JOIN sessions.users u USING (user_id)
     WHERE u.email = p_email ORDER BY s.started_at, s.node_name
$$;

-- Ages 300, 600, 900: one session of 900 s, not 1,800.
SELECT tests.ingest('a@example.org', 'jupyter-a', 'cpu-1', '10:05:00=300;10:10:00=600;10:15:00=900');
SELECT results_eq($$ SELECT * FROM tests.sessions_of('a@example.org') $$,
                  $$ VALUES ('cpu-1', '2024-03-04 10:00+00'::timestamptz, '2024-03-04 10:15+00'::timestamptz, 900) $$,
                  'ages 300, 600, 900 make one session of 900 s');
SELECT is((SELECT observations FROM sessions.sessions s JOIN sessions.users u USING (user_id)
            WHERE u.email = 'a@example.org'), 3, 'the session counts its three observations');

-- The same pod name restarted later: two lives, two sessions.
SELECT tests.ingest('b@example.org', 'jupyter-b', 'cpu-1',
                    '10:05:00=300;10:10:00=600;12:05:00=120;12:10:00=420');
SELECT results_eq($$ SELECT * FROM tests.sessions_of('b@example.org') $$,
                  $$ VALUES ('cpu-1', '2024-03-04 10:00+00'::timestamptz, '2024-03-04 10:10+00'::timestamptz, 600),
                            ('cpu-1', '2024-03-04 12:03+00'::timestamptz, '2024-03-04 12:10+00'::timestamptz, 420) $$,
                  'a reused pod name with a new start time is a second session');

-- A one-hour gap in collection inside one pod life: still one session.
SELECT tests.ingest('c@example.org', 'jupyter-c', 'cpu-1',
                    '10:05:00=300;10:10:00=600;11:15:00=4500;11:20:00=4800');
SELECT results_eq($$ SELECT * FROM tests.sessions_of('c@example.org') $$,
                  $$ VALUES ('cpu-1', '2024-03-04 10:00+00'::timestamptz, '2024-03-04 11:20+00'::timestamptz, 4800) $$,
                  'a collection gap does not split a session');

-- A pod that moved node (same name and start minute): two sessions.
SELECT tests.ingest('d@example.org', 'jupyter-d', 'cpu-1', '10:05:00=300');
SELECT tests.ingest('d@example.org', 'jupyter-d', 'gpu-a100-1', '10:10:00=600;10:15:00=900');
SELECT results_eq($$ SELECT * FROM tests.sessions_of('d@example.org') $$,
                  $$ VALUES ('cpu-1', '2024-03-04 10:00+00'::timestamptz, '2024-03-04 10:05+00'::timestamptz, 300),
                            ('gpu-a100-1', '2024-03-04 10:00+00'::timestamptz, '2024-03-04 10:15+00'::timestamptz, 900) $$,
                  'a pod on another node is another session');

-- Start time to the minute: a second of jitter in observed_at − age does not split.
SELECT tests.ingest('e@example.org', 'jupyter-e', 'cpu-1', '10:05:00=299;10:10:00=600;10:15:30=930');
SELECT results_eq($$ SELECT * FROM tests.sessions_of('e@example.org') $$,
                  $$ VALUES ('cpu-1', '2024-03-04 10:00+00'::timestamptz, '2024-03-04 10:15:30+00'::timestamptz, 930) $$,
                  'starts within the same minute are one session');

-- Kept current as observations arrive, in any order, with no refresh step.
SELECT tests.ingest('f@example.org', 'jupyter-f', 'cpu-1', '10:20:00=1200');
SELECT is((SELECT runtime_seconds FROM tests.sessions_of('f@example.org')), 1200,
          'a session exists as soon as its first observation arrives');
SELECT tests.ingest('f@example.org', 'jupyter-f', 'cpu-1', '10:05:00=300;10:10:00=600');
SELECT results_eq($$ SELECT * FROM tests.sessions_of('f@example.org') $$,
                  $$ VALUES ('cpu-1', '2024-03-04 10:00+00'::timestamptz, '2024-03-04 10:20+00'::timestamptz, 1200) $$,
                  'late, older observations do not shrink the session');
SELECT tests.ingest('f@example.org', 'jupyter-f', 'cpu-1', '10:25:00=1500');
SELECT is((SELECT runtime_seconds FROM tests.sessions_of('f@example.org')), 1500,
          'a newer observation extends the session at once');
SELECT is((SELECT observations FROM sessions.sessions s JOIN sessions.users u USING (user_id)
            WHERE u.email = 'f@example.org'), 4, 'four observations folded in');

-- Replays change nothing.
SELECT is(tests.ingest('f@example.org', 'jupyter-f', 'cpu-1', '10:05:00=300;10:25:00=1500')::jsonb,
          '{"received": 2, "written": 0, "duplicates": 2}'::jsonb, 'a replayed batch writes nothing');
SELECT is((SELECT observations FROM sessions.sessions s JOIN sessions.users u USING (user_id)
            WHERE u.email = 'f@example.org'), 4, 'a replay does not count observations twice');
SELECT is((SELECT count(*) FROM sessions.sessions), 8::bigint, 'eight sessions in all');

-- The image is the latest seen for the session.
SELECT api.ingest_container_observations(jsonb_build_array(jsonb_build_object(
    'observed_at', '2024-03-04T10:30:00Z', 'user_email', 'f@example.org', 'pod_name', 'jupyter-f',
    'node_name', 'cpu-1', 'container_base', 'quay.io/jupyter/scipy-notebook',
    'container_version', '2024-06-01', 'age_seconds', 1800)));
SELECT is((SELECT container_version FROM sessions.sessions s JOIN sessions.users u USING (user_id)
            WHERE u.email = 'f@example.org'), '2024-06-01', 'the session shows its latest image');

-- Users' first/last seen follow the observations, whatever their arrival order.
SELECT results_eq($$ SELECT first_seen, last_seen FROM sessions.users WHERE email = 'f@example.org' $$,
                  $$ VALUES ('2024-03-04 10:05+00'::timestamptz, '2024-03-04 10:30+00'::timestamptz) $$,
                  'first and last seen of a user');

-- Ingest as writer works through the trigger without any privilege on the tables.
SELECT tests.authenticate_as('writer', 'collector');
SELECT lives_ok($$ SELECT api.ingest_container_observations(jsonb_build_array(jsonb_build_object(
    'observed_at', '2024-03-04T10:35:00Z', 'user_email', 'f@example.org', 'pod_name', 'jupyter-f',
    'node_name', 'cpu-1', 'container_base', 'quay.io/jupyter/scipy-notebook', 'age_seconds', 2100))) $$,
    'writer ingests; the session trigger runs with the function owner''s rights');
SELECT tests.clear_authentication();
SELECT is((SELECT runtime_seconds FROM tests.sessions_of('f@example.org')), 2100,
          'and the session moved on');

SELECT * FROM finish();
ROLLBACK;
