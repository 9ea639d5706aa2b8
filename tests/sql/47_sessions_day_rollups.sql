-- The per-day session rollups (migration 0046) give exactly the answers computed from the
-- sessions alone: sessions spanning days, ending or starting at midnight, zero-length
-- ones, late and out-of-order observations, sessions that grow or change image after
-- their days were rolled up; ranges on and off day boundaries.
BEGIN;
\ir _setup.sql
SET LOCAL TimeZone = 'UTC';
SELECT plan(12);

-- Observations of one pod life: p_rows is 'YYYY-MM-DD HH:MI:SS=age;…' (UTC).
CREATE FUNCTION tests.observe(p_email text, p_pod text, p_node text, p_image text, p_rows text)
RETURNS json LANGUAGE sql AS $$
    SELECT api.ingest_container_observations(jsonb_agg(jsonb_build_object(
               'observed_at', replace(split_part(r, '=', 1), ' ', 'T') || 'Z',
               'user_email', p_email, 'pod_name', p_pod, 'node_name', p_node,
               'container_base', split_part(p_image, ':', 1),
               'container_version', split_part(p_image, ':', 2),
               'age_seconds', split_part(r, '=', 2)::integer)))
      FROM unnest(string_to_array(p_rows, ';')) r
$$;

-- What get_runtime_by_user answered before the rollups: every overlapping session clipped.
CREATE FUNCTION tests.runtime_from_sessions(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (user_email text, total_hours numeric, gpu_hours numeric, cpu_hours numeric,
               sessions bigint, containers bigint, applications bigint, last_seen timestamptz)
LANGUAGE sql AS $$
    SELECT u.email,
           round(sum(c.seconds_in_range) / 3600, 4),
           round(coalesce(sum(c.seconds_in_range) FILTER (WHERE c.node_class = 'gpu'), 0) / 3600, 4),
           round(coalesce(sum(c.seconds_in_range) FILTER (WHERE c.node_class <> 'gpu'), 0) / 3600, 4),
           count(*), count(DISTINCT c.pod_name), count(DISTINCT c.container_base),
           max(c.last_observed_at)
      FROM sessions.sessions_in_range(p_from, p_to) c
      JOIN sessions.users u ON u.user_id = c.user_id
     GROUP BY u.email
$$;

-- What the bucketed functions answered before: sessions bucketed one by one.
CREATE FUNCTION tests.usage_from_sessions(p_kind text, p_interval interval, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (bucket timestamptz, node_name text, container_base text, container_version text,
               users bigint, containers bigint)
LANGUAGE sql AS $$
    SELECT s.bucket,
           CASE WHEN p_kind = 'node' THEN s.node_name ELSE '' END,
           CASE WHEN p_kind = 'image' THEN s.container_base ELSE '' END,
           CASE WHEN p_kind = 'image' THEN s.container_version ELSE '' END,
           count(DISTINCT s.user_id), count(*)
      FROM sessions.session_buckets(p_interval, p_from, p_to) s
     GROUP BY 1, 2, 3, 4
$$;

-- Every range over 2024-01-31 … 2024-04-02 with ends at midnights (months' first days
-- too), at 06:00, at 23:59:59 and at the sessions' own edges, where the two answers differ.
CREATE FUNCTION tests.mismatches()
RETURNS TABLE (what text, range_from timestamptz, range_to timestamptz)
LANGUAGE sql AS $$
    WITH ends AS (
        SELECT e FROM unnest(ARRAY[
            '2024-01-31 23:00', '2024-02-01 00:00', '2024-02-15 06:00', '2024-03-01 00:00',
            '2024-04-01 00:00', '2024-04-02 12:00', '2024-03-03 00:00', '2024-03-04 00:00', '2024-03-04 06:00', '2024-03-04 23:59:59',
            '2024-03-05 00:00', '2024-03-05 00:00:01', '2024-03-05 12:00', '2024-03-06 00:00',
            '2024-03-06 22:00', '2024-03-07 00:00', '2024-03-07 00:00:30', '2024-03-08 00:00',
            '2024-03-09 00:00']::timestamptz[]) AS e
        UNION
        SELECT started_at FROM sessions.sessions
        UNION
        SELECT ended_at FROM sessions.sessions
    ), ranges AS (
        SELECT a.e AS f, b.e AS t FROM ends a, ends b WHERE a.e <= b.e
    )
    SELECT 'runtime', r.f, r.t
      FROM ranges r
     WHERE EXISTS (
         (SELECT user_email, total_hours, gpu_hours, cpu_hours, sessions, containers, applications, last_seen
            FROM api.get_runtime_by_user(r.f, r.t, 1000)
          EXCEPT ALL
          SELECT * FROM tests.runtime_from_sessions(r.f, r.t))
         UNION ALL
         (SELECT * FROM tests.runtime_from_sessions(r.f, r.t)
          EXCEPT ALL
          SELECT user_email, total_hours, gpu_hours, cpu_hours, sessions, containers, applications, last_seen
            FROM api.get_runtime_by_user(r.f, r.t, 1000)))
    UNION ALL
    SELECT k || ' ' || w, r.f, r.t
      FROM ranges r,
           unnest(ARRAY['all', 'node', 'image']) AS k,
           unnest(ARRAY['1 day', '1 month']::interval[]) AS w
     WHERE EXISTS (
         (SELECT * FROM sessions.usage_buckets(k, w, r.f, r.t)
          EXCEPT ALL SELECT * FROM tests.usage_from_sessions(k, w, r.f, r.t))
         UNION ALL
         (SELECT * FROM tests.usage_from_sessions(k, w, r.f, r.t)
          EXCEPT ALL SELECT * FROM sessions.usage_buckets(k, w, r.f, r.t)))
$$;

-- The rollup tables as rebuilt from scratch: what the trigger must have kept.
CREATE FUNCTION tests.user_days_from_sessions()
RETURNS TABLE (day timestamptz, user_id bigint, node_name text, pod_name text,
               container_base text, container_version text, containers bigint, starts bigint,
               seconds numeric, last_observed_at timestamptz)
LANGUAGE sql AS $$
    SELECT d.day, s.user_id, s.node_name, s.pod_name, s.container_base, s.container_version,
           count(*), count(*) FILTER (WHERE s.started_at >= d.day),
           sum(extract(epoch FROM least(s.ended_at, d.day + interval '24 hours') - greatest(s.started_at, d.day))),
           max(s.last_observed_at) FILTER (WHERE s.started_at >= d.day)
      FROM sessions.sessions s
     CROSS JOIN LATERAL generate_series(date_trunc('day', s.started_at, 'UTC'), s.ended_at, interval '24 hours') AS d(day)
     WHERE s.started_at < d.day + interval '24 hours' AND s.ended_at > d.day
     GROUP BY 1, 2, 3, 4, 5, 6
$$;
CREATE FUNCTION tests.rollups_differ()
RETURNS bigint LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM (
               (SELECT day, user_id, node_name, pod_name, container_base, container_version,
                       containers::bigint, starts::bigint, seconds, last_observed_at
                  FROM sessions.user_days
                EXCEPT ALL SELECT * FROM tests.user_days_from_sessions())
               UNION ALL
               (SELECT * FROM tests.user_days_from_sessions()
                EXCEPT ALL SELECT day, user_id, node_name, pod_name, container_base, container_version,
                                  containers::bigint, starts::bigint, seconds, last_observed_at
                             FROM sessions.user_days)) x)
         + (SELECT count(*) FROM (
               WITH rebuilt AS (
                   SELECT CASE WHEN grouping(node_name) = 0 THEN 'node'
                               WHEN grouping(container_base) = 0 THEN 'image' ELSE 'all' END AS kind,
                          day, coalesce(node_name, '') AS node_name,
                          coalesce(container_base, '') AS container_base,
                          coalesce(container_version, '') AS container_version,
                          count(DISTINCT user_id) AS users, sum(containers)::bigint AS containers
                     FROM tests.user_days_from_sessions()
                    GROUP BY GROUPING SETS ((day), (day, node_name), (day, container_base, container_version)))
               (SELECT kind, day, node_name, container_base, container_version, users::bigint,
                       containers::bigint
                  FROM sessions.day_usage
                EXCEPT ALL SELECT * FROM rebuilt)
               UNION ALL
               (SELECT * FROM rebuilt
                EXCEPT ALL SELECT kind, day, node_name, container_base, container_version,
                                  users::bigint, containers::bigint
                             FROM sessions.day_usage)) y)
         + (SELECT count(*) FROM (
               WITH rebuilt AS (
                   SELECT date_trunc('month', r.day, 'UTC') AS month, r.user_id,
                          coalesce(sum(r.seconds) FILTER (WHERE sessions.node_class_of(r.node_name) = 'gpu'), 0) AS gpu,
                          coalesce(sum(r.seconds) FILTER (WHERE sessions.node_class_of(r.node_name) <> 'gpu'), 0) AS cpu,
                          sum(r.starts) AS starts,
                          coalesce(array_agg(DISTINCT r.pod_name) FILTER (WHERE r.starts > 0), '{}') AS pods,
                          coalesce(array_agg(DISTINCT r.container_base) FILTER (WHERE r.starts > 0), '{}') AS bases,
                          max(r.last_observed_at) AS last_observed_at
                     FROM tests.user_days_from_sessions() r
                    GROUP BY 1, 2)
               (SELECT month, user_id, gpu_seconds, cpu_seconds, starts::numeric, pods, bases, last_observed_at
                  FROM sessions.user_months
                EXCEPT ALL SELECT * FROM rebuilt)
               UNION ALL
               (SELECT * FROM rebuilt
                EXCEPT ALL SELECT month, user_id, gpu_seconds, cpu_seconds, starts::numeric, pods, bases,
                                  last_observed_at
                             FROM sessions.user_months)) z)
$$;

-- ann: one session over two midnights (03-04 22:00 → 03-06 01:00), on a GPU node.
SELECT tests.observe('ann@example.org', 'jupyter-ann', 'gpu-a100-1', 'jupyter/pytorch-notebook:2024.05',
                     '2024-03-04 22:05:00=300;2024-03-05 12:00:00=50400;2024-03-06 01:00:00=97200');
-- bob: a session ending exactly at midnight, the same pod restarted exactly at midnight.
SELECT tests.observe('bob@example.org', 'jupyter-bob', 'cpu-1', 'jupyter/scipy-notebook:2024.05',
                     '2024-03-04 23:00:00=1800;2024-03-05 00:00:00=5400');
SELECT tests.observe('bob@example.org', 'jupyter-bob', 'cpu-1', 'jupyter/scipy-notebook:2024.05',
                     '2024-03-05 00:00:00=0;2024-03-05 00:30:00=1800');
-- cat: zero-length sessions, one exactly at a midnight, one in the middle of a day.
SELECT tests.observe('cat@example.org', 'jupyter-cat', 'cpu-2', 'jupyter/r-notebook:2024.04',
                     '2024-03-06 00:00:00=0');
SELECT tests.observe('cat@example.org', 'jupyter-cat--b', 'cpu-2', 'jupyter/r-notebook:2024.04',
                     '2024-03-06 13:00:00=0');
-- dan: sub-minute start, observed out of order across days (the later day first).
SELECT tests.observe('dan@example.org', 'jupyter-dan', 'cpu-1', 'jupyter/scipy-notebook:2024.05',
                     '2024-03-07 00:00:30=86400');
SELECT tests.observe('dan@example.org', 'jupyter-dan', 'cpu-1', 'jupyter/scipy-notebook:2024.05',
                     '2024-03-06 00:05:00=270');
-- fay: a session over the leap day into March, and one in the middle of February.
SELECT tests.observe('fay@example.org', 'jupyter-fay', 'gpu-v100-1', 'jupyter/pytorch-notebook:2024.05',
                     '2024-02-29 22:00:00=600;2024-03-01 02:00:00=15000');
SELECT tests.observe('fay@example.org', 'jupyter-fay', 'cpu-1', 'jupyter/scipy-notebook:2024.05',
                     '2024-02-14 09:00:00=300;2024-02-14 17:00:00=29100');
SELECT is(tests.rollups_differ(), 0::bigint, 'the rollups equal a rebuild from the sessions');
SELECT is_empty($$ SELECT * FROM tests.mismatches() $$,
                'every range answers as from the sessions (spanning days, midnights, zero-length, out of order)');

-- Sessions that grow after their days were rolled up: ann runs on to 03-07 10:00,
-- bob's midnight restart goes on, a late observation moves dan's start a few seconds
-- earlier (same start minute), and cat's zero-length midnight session gets an age.
SELECT tests.observe('ann@example.org', 'jupyter-ann', 'gpu-a100-1', 'jupyter/pytorch-notebook:2024.05',
                     '2024-03-07 10:00:00=216000');
SELECT tests.observe('bob@example.org', 'jupyter-bob', 'cpu-1', 'jupyter/scipy-notebook:2024.05',
                     '2024-03-05 06:00:00=21600');
SELECT tests.observe('dan@example.org', 'jupyter-dan', 'cpu-1', 'jupyter/scipy-notebook:2024.05',
                     '2024-03-06 00:01:00=50');
SELECT tests.observe('cat@example.org', 'jupyter-cat', 'cpu-2', 'jupyter/r-notebook:2024.04',
                     '2024-03-06 02:00:00=7200');
SELECT is(tests.rollups_differ(), 0::bigint, 'after sessions grew, the rollups still equal a rebuild');
SELECT is_empty($$ SELECT * FROM tests.mismatches() $$, 'after sessions grew, every range still answers as from the sessions');

-- A session whose image changes (the latest observation wins) moves in every day it touches.
SELECT tests.observe('ann@example.org', 'jupyter-ann', 'gpu-a100-1', 'jupyter/tensorflow-notebook:2024.06',
                     '2024-03-07 11:00:00=219600');
SELECT is((SELECT count(*) FROM sessions.user_days r JOIN sessions.users u USING (user_id)
            WHERE u.email = 'ann@example.org' AND r.container_base = 'jupyter/pytorch-notebook'),
          0::bigint, 'no day keeps the old image of a session');
SELECT is(tests.rollups_differ(), 0::bigint, 'after an image change, the rollups equal a rebuild');
SELECT is_empty($$ SELECT * FROM tests.mismatches() $$, 'after an image change, every range answers as from the sessions');

-- A replayed batch changes nothing; a late observation for an old day only that day.
SELECT tests.observe('bob@example.org', 'jupyter-bob', 'cpu-1', 'jupyter/scipy-notebook:2024.05',
                     '2024-03-05 06:00:00=21600');
SELECT is(tests.rollups_differ(), 0::bigint, 'a replay leaves the rollups as they were');
SELECT tests.observe('eve@example.org', 'jupyter-eve', 'node-h100-2', 'jupyter/pytorch-notebook:2024.05',
                     '2024-03-03 10:00:00=600;2024-03-03 11:00:00=4200');
SELECT is(tests.rollups_differ(), 0::bigint, 'a late session on an old day is rolled up');
SELECT is_empty($$ SELECT * FROM tests.mismatches() $$, 'with the late session, every range answers as from the sessions');

-- A node class changed after the rollups were written applies at once (classes are read
-- at query time, not stored).
INSERT INTO sessions.node_classes (pattern, node_class, priority) VALUES ('cpu-2', 'gpu', 1);
SELECT is((SELECT gpu_hours FROM api.get_runtime_by_user('2024-03-06T00:00Z', '2024-03-07T00:00Z')
            WHERE user_email = 'cat@example.org'), 2.0000, 'a new node class counts at once');
SELECT is_empty($$ SELECT * FROM tests.mismatches() $$, 'with the new node class, every range answers as from the sessions');

SELECT * FROM finish();
ROLLBACK;
