-- api.get_runtime_by_user: hours per user, GPU/CPU split by the node-class table,
-- counts, ordering, limit, and clipping of sessions to the range.
BEGIN;
\ir _setup.sql
SET LOCAL TimeZone = 'UTC';
SELECT plan(13);

-- One session per call: from p_start to p_end (2024-03-04, UTC), observed at both ends.
CREATE FUNCTION tests.session(p_email text, p_name text, p_pod text, p_node text, p_base text,
                              p_start time, p_end time)
RETURNS json LANGUAGE sql AS $$
    SELECT api.ingest_container_observations(jsonb_agg(jsonb_build_object(
               'observed_at', to_char(('2024-03-04'::date + t) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               'user_email', p_email, 'user_name', p_name, 'pod_name', p_pod, 'node_name', p_node,
               'container_base', p_base, 'container_version', '2024.05',
               'age_seconds', extract(epoch FROM t - p_start)::integer)))
      FROM unnest(ARRAY[p_start + interval '5 minutes', p_end]) t
$$;

SELECT tests.session('ann@example.org', 'Ann', 'jupyter-ann', 'gke-a100-pool-1', 'jupyter/pytorch-notebook', '10:00', '12:00');
SELECT tests.session('ann@example.org', 'Ann', 'jupyter-ann--work', 'cpu-1', 'jupyter/r-notebook', '13:00', '14:00');
SELECT tests.session('bob@example.org', 'Bob', 'jupyter-bob', 'cpu-2', 'jupyter/scipy-notebook', '09:00', '09:30');
SELECT tests.session('bob@example.org', 'Bob', 'jupyter-bob', 'cpu-2', 'jupyter/scipy-notebook', '15:00', '15:30');
SELECT tests.session('cat@example.org', 'Cat', 'jupyter-cat', 'node-H100-3', 'jupyter/pytorch-notebook', '11:00', '11:15');

SELECT results_eq(
    $$ SELECT * FROM api.get_runtime_by_user('2024-03-04T00:00Z', '2024-03-05T00:00Z') $$,
    $$ VALUES ('ann@example.org', 'Ann', 3.0000, 2.0000, 1.0000, 2::bigint, 2::bigint, 2::bigint, '2024-03-04 14:00+00'::timestamptz),
              ('bob@example.org', 'Bob', 1.0000, 0.0000, 1.0000, 2::bigint, 1::bigint, 1::bigint, '2024-03-04 15:30+00'::timestamptz),
              ('cat@example.org', 'Cat', 0.2500, 0.2500, 0.0000, 1::bigint, 1::bigint, 1::bigint, '2024-03-04 11:15+00'::timestamptz) $$,
    'a whole day: hours, GPU/CPU split, sessions, containers (pod names), applications (images), most hours first');

SELECT results_eq(
    $$ SELECT user_email, total_hours, gpu_hours, cpu_hours, sessions
         FROM api.get_runtime_by_user('2024-03-04T11:00Z', '2024-03-04T13:30Z') $$,
    $$ VALUES ('ann@example.org', 1.5000, 1.0000, 0.5000, 2::bigint),
              ('cat@example.org', 0.2500, 0.2500, 0.0000, 1::bigint) $$,
    'sessions overlapping the range count only the part inside it');

SELECT is_empty(
    $$ SELECT * FROM api.get_runtime_by_user('2024-03-04T12:00Z', '2024-03-04T13:00Z') $$,
    'a session ending at p_from and one starting at p_to are outside [p_from, p_to)');

SELECT results_eq(
    $$ SELECT user_email, total_hours FROM api.get_runtime_by_user('2024-03-04T11:10Z', '2024-03-04T11:12Z') $$,
    $$ VALUES ('ann@example.org', 0.0333), ('cat@example.org', 0.0333) $$,
    'a range inside sessions counts the range; ties ordered by email');

SELECT results_eq(
    $$ SELECT user_email FROM api.get_runtime_by_user('2024-03-04T00:00Z', '2024-03-05T00:00Z', 2) $$,
    $$ VALUES ('ann@example.org'), ('bob@example.org') $$,
    'p_limit keeps the top users');

-- One recent session, 2 h to 1.5 h before now: the default range (the 7 days up to now)
-- returns it and none of the 2024 sessions.
SELECT api.ingest_container_observations(jsonb_agg(jsonb_build_object(
           'observed_at', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           'user_email', 'dan@example.org', 'user_name', 'Dan', 'pod_name', 'jupyter-dan',
           'node_name', 'cpu-9', 'container_base', 'jupyter/base-notebook', 'container_version', '2026.11',
           'age_seconds', extract(epoch FROM t - (date_trunc('minute', now()) - interval '2 hours'))::integer)))
  FROM unnest(ARRAY[date_trunc('minute', now()) - interval '119 minutes',
                    date_trunc('minute', now()) - interval '90 minutes']) t;
SELECT results_eq($$ SELECT user_email, total_hours, gpu_hours, cpu_hours, sessions FROM api.get_runtime_by_user() $$,
                  $$ VALUES ('dan@example.org', 0.5000, 0.0000, 0.5000, 1::bigint) $$,
                  'defaults: the last 7 days (a recent session, none of the older data)');
SELECT is((SELECT count(*) FROM api.get_runtime_by_user(p_to => '2024-03-05T00:00Z')), 3::bigint,
          'p_from defaults to 7 days before p_to');

-- Rows of get_user_sessions add up to the user's total.
SELECT is((SELECT sum(runtime_hours) FROM api.get_user_sessions('ann@example.org', '2024-03-04T11:00Z', '2024-03-04T13:30Z')),
          1.5000, 'get_user_sessions adds up to get_runtime_by_user over the same range');

-- The GPU/CPU split is data: a new pattern reclassifies at once.
INSERT INTO sessions.node_classes (pattern, node_class) VALUES ('cpu-2', 'gpu');
SELECT results_eq(
    $$ SELECT gpu_hours, cpu_hours FROM api.get_runtime_by_user('2024-03-04T00:00Z', '2024-03-05T00:00Z')
        WHERE user_email = 'bob@example.org' $$,
    $$ VALUES (1.0000, 0.0000) $$,
    'a node-class row makes a node count as GPU');
INSERT INTO sessions.node_classes (pattern, node_class, priority) VALUES ('%pool-1', 'cpu', 10);
SELECT results_eq(
    $$ SELECT gpu_hours, cpu_hours FROM api.get_runtime_by_user('2024-03-04T00:00Z', '2024-03-05T00:00Z')
        WHERE user_email = 'ann@example.org' $$,
    $$ VALUES (0.0000, 3.0000) $$,
    'the lowest priority pattern wins');

SELECT throws_ok($$ SELECT * FROM api.get_runtime_by_user('2024-03-05T00:00Z', '2024-03-04T00:00Z') $$,
                 '22023', 'p_from (2024-03-05 00:00:00+00) must not be after p_to (2024-03-04 00:00:00+00)',
                 'an inverted range is refused');
SELECT throws_ok($$ SELECT * FROM api.get_runtime_by_user(p_limit => 0) $$,
                 '22023', 'p_limit must be a positive integer, got 0', 'p_limit must be positive');
SELECT is((SELECT user_name FROM api.get_runtime_by_user('2024-03-04T00:00Z', '2024-03-05T00:00Z')
            WHERE user_email = 'cat@example.org'), 'Cat', 'the user''s name');

SELECT * FROM finish();
ROLLBACK;
