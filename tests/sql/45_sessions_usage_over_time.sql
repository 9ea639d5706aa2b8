-- api.get_active_users, api.get_node_usage, api.get_image_usage: sessions counted in
-- every bucket they touch, buckets aligned (UTC, calendar months), only buckets with data.
BEGIN;
\ir _setup.sql
SET LOCAL TimeZone = 'UTC';
SELECT plan(18);

CREATE FUNCTION tests.session(p_email text, p_pod text, p_node text, p_image text, p_start time, p_end time)
RETURNS json LANGUAGE sql AS $$
    SELECT api.ingest_container_observations(jsonb_agg(jsonb_build_object(
               'observed_at', to_char(('2024-03-04'::date + t) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               'user_email', p_email, 'pod_name', p_pod, 'node_name', p_node,
               'container_base', split_part(p_image, ':', 1), 'container_version', split_part(p_image, ':', 2),
               'age_seconds', extract(epoch FROM t - p_start)::integer)))
      FROM unnest(ARRAY[p_start + interval '1 minute', p_end]) t
$$;

SELECT tests.session('ann@example.org', 'jupyter-ann', 'gpu-a100-1', 'jupyter/pytorch-notebook:2024.05', '10:00', '12:00');
SELECT tests.session('bob@example.org', 'jupyter-bob', 'cpu-1', 'jupyter/scipy-notebook:2024.05', '10:30', '11:10');
SELECT tests.session('bob@example.org', 'jupyter-bob--2', 'cpu-1', 'jupyter/scipy-notebook:2024.04', '11:00', '11:20');
SELECT tests.session('cat@example.org', 'jupyter-cat', 'cpu-1', 'jupyter/scipy-notebook:2024.05', '13:00', '13:05');

SELECT results_eq(
    $$ SELECT * FROM api.get_active_users('1 hour', '2024-03-04T10:00Z', '2024-03-04T14:00Z') $$,
    $$ VALUES ('2024-03-04 10:00+00'::timestamptz, 2::bigint, 2::bigint),
              ('2024-03-04 11:00+00'::timestamptz, 2::bigint, 3::bigint),
              ('2024-03-04 13:00+00'::timestamptz, 1::bigint, 1::bigint) $$,
    'active users and containers per hour, oldest first; a session ending at 12:00 is not in the 12:00 bucket, which has no data');

SELECT results_eq(
    $$ SELECT * FROM api.get_active_users('1 hour', '2024-03-04T10:45Z', '2024-03-04T11:05Z') $$,
    $$ VALUES ('2024-03-04 10:00+00'::timestamptz, 2::bigint, 2::bigint),
              ('2024-03-04 11:00+00'::timestamptz, 2::bigint, 3::bigint) $$,
    'the range clips sessions; buckets stay aligned to the interval');

SELECT results_eq(
    $$ SELECT * FROM api.get_active_users('1 hour', '2024-03-04T11:30Z', '2024-03-04T14:00Z') $$,
    $$ VALUES ('2024-03-04 11:00+00'::timestamptz, 1::bigint, 1::bigint),
              ('2024-03-04 13:00+00'::timestamptz, 1::bigint, 1::bigint) $$,
    'sessions that ended before p_from are not counted');

SELECT results_eq(
    $$ SELECT * FROM api.get_node_usage('1 hour', '2024-03-04T10:00Z', '2024-03-04T14:00Z') $$,
    $$ VALUES ('2024-03-04 10:00+00'::timestamptz, 'cpu-1', 'cpu', 1::bigint, 1::bigint),
              ('2024-03-04 10:00+00'::timestamptz, 'gpu-a100-1', 'gpu', 1::bigint, 1::bigint),
              ('2024-03-04 11:00+00'::timestamptz, 'cpu-1', 'cpu', 1::bigint, 2::bigint),
              ('2024-03-04 11:00+00'::timestamptz, 'gpu-a100-1', 'gpu', 1::bigint, 1::bigint),
              ('2024-03-04 13:00+00'::timestamptz, 'cpu-1', 'cpu', 1::bigint, 1::bigint) $$,
    'usage per hour and node, with the node class');

SELECT results_eq(
    $$ SELECT * FROM api.get_image_usage('1 day', '2024-03-04T00:00Z', '2024-03-05T00:00Z') $$,
    $$ VALUES ('2024-03-04 00:00+00'::timestamptz, 'jupyter/pytorch-notebook', '2024.05', 1::bigint, 1::bigint),
              ('2024-03-04 00:00+00'::timestamptz, 'jupyter/scipy-notebook', '2024.04', 1::bigint, 1::bigint),
              ('2024-03-04 00:00+00'::timestamptz, 'jupyter/scipy-notebook', '2024.05', 2::bigint, 2::bigint) $$,
    'usage per day and image');

SELECT results_eq(
    $$ SELECT "timestamp", active_users FROM api.get_active_users('1 month', '2024-03-04T00:00Z', '2024-03-05T00:00Z') $$,
    $$ VALUES ('2024-03-01 00:00+00'::timestamptz, 3::bigint) $$,
    'month buckets start on the first of the month');
SELECT results_eq(
    $$ SELECT "timestamp" FROM api.get_active_users('1 week', '2024-03-01T00:00Z', '2024-03-08T00:00Z') $$,
    $$ VALUES ('2024-03-04 00:00+00'::timestamptz) $$,
    'week buckets start on Monday');
SELECT results_eq(
    $$ SELECT "timestamp" FROM api.get_active_users('15 minutes', '2024-03-04T11:00Z', '2024-03-04T11:30Z') $$,
    $$ VALUES ('2024-03-04 11:00+00'::timestamptz), ('2024-03-04 11:15+00'::timestamptz) $$,
    '15-minute buckets');

SET LOCAL TimeZone = 'America/New_York';
SELECT results_eq(
    $$ SELECT "timestamp" FROM api.get_image_usage('1 day', '2024-03-04T00:00Z', '2024-03-05T00:00Z') LIMIT 1 $$,
    $$ VALUES ('2024-03-04 00:00+00'::timestamptz) $$,
    'buckets are aligned in UTC whatever the session time zone');
SET LOCAL TimeZone = 'UTC';

-- Sessions bucket exactly as metrics does (metrics.bucket_start): months count from
-- 2000-01, so 7-month buckets holding 2024-03-04 start on 2023-12-01.
SELECT results_eq(
    $$ SELECT "timestamp", active_users FROM api.get_active_users('7 months', '2024-03-04T00:00Z', '2024-03-05T00:00Z') $$,
    $$ VALUES ('2023-12-01 00:00+00'::timestamptz, 3::bigint) $$,
    '7-month buckets count months from 2000-01, as metrics.bucket_start does');
SELECT is_empty($$
    SELECT t, w
      FROM generate_series(timestamptz '1998-01-15', '2031-12-15', '1 month') AS t,
           generate_series(1, 25) AS m, LATERAL (SELECT make_interval(months => m) AS w) AS i
     WHERE (SELECT min(b) FROM sessions.buckets_of_span(t, t + interval '1 second', w) AS b)
           IS DISTINCT FROM metrics.bucket_start(t, w) $$,
    'sessions and metrics put every month width (1-25) at every month in the same bucket');

-- One recent session, 2 h 10 min to 1 h 40 min before the hour of now, on a GPU node:
-- the defaults (hourly, the 7 days up to now) return it and none of the 2024 data.
SELECT api.ingest_container_observations(jsonb_agg(jsonb_build_object(
           'observed_at', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           'user_email', 'dan@example.org', 'pod_name', 'jupyter-dan', 'node_name', 'node-h200-9',
           'container_base', 'jupyter/base-notebook', 'container_version', '2026.11',
           'age_seconds', extract(epoch FROM t - (date_trunc('hour', now()) - interval '130 minutes'))::integer)))
  FROM unnest(ARRAY[date_trunc('hour', now()) - interval '129 minutes',
                    date_trunc('hour', now()) - interval '100 minutes']) t;
SELECT results_eq($$ SELECT * FROM api.get_active_users() $$,
                  $$ VALUES (date_trunc('hour', now()) - interval '3 hours', 1::bigint, 1::bigint),
                            (date_trunc('hour', now()) - interval '2 hours', 1::bigint, 1::bigint) $$,
                  'defaults: hourly over the last 7 days (get_active_users)');
SELECT results_eq($$ SELECT * FROM api.get_node_usage() $$,
                  $$ VALUES (date_trunc('hour', now()) - interval '3 hours', 'node-h200-9', 'gpu', 1::bigint, 1::bigint),
                            (date_trunc('hour', now()) - interval '2 hours', 'node-h200-9', 'gpu', 1::bigint, 1::bigint) $$,
                  'defaults: hourly over the last 7 days (get_node_usage)');
SELECT results_eq($$ SELECT * FROM api.get_image_usage() $$,
                  $$ VALUES (date_trunc('hour', now()) - interval '3 hours', 'jupyter/base-notebook', '2026.11', 1::bigint, 1::bigint),
                            (date_trunc('hour', now()) - interval '2 hours', 'jupyter/base-notebook', '2026.11', 1::bigint, 1::bigint) $$,
                  'defaults: hourly over the last 7 days (get_image_usage)');
SELECT throws_ok($$ SELECT * FROM api.get_active_users('0 seconds', '2024-03-04T00:00Z', '2024-03-05T00:00Z') $$,
                 '22023', 'p_interval must be a positive interval, got 00:00:00', 'a zero interval is refused');
SELECT throws_ok($$ SELECT * FROM api.get_node_usage('1 month 1 day', '2024-03-04T00:00Z', '2024-03-05T00:00Z') $$,
                 '22023', 'p_interval 1 mon 1 day mixes months with days or time', 'months and days do not mix');
SELECT throws_ok($$ SELECT * FROM api.get_image_usage('1 second', '2023-01-01T00:00Z', '2024-03-05T00:00Z') $$,
                 '22023', NULL, 'too many buckets are refused, even before reading data');
SELECT throws_ok($$ SELECT * FROM api.get_active_users('1 hour', '2024-03-05T00:00Z', '2024-03-04T00:00Z') $$,
                 '22023', NULL, 'an inverted range is refused');

SELECT * FROM finish();
ROLLBACK;
