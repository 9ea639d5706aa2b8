-- Demo: a week of JupyterHub container sessions ending now, sent through the same
-- writer-only ingest function the collector uses. 30 users on GPU (A100, H100) and CPU
-- nodes with five images; one to two sessions a day of 20 minutes to 17 hours, quieter at
-- weekends; pod names reused day after day; six users with a session running now.
-- Sessions sit on a fixed day grid with choices drawn from hashes, and observations on a
-- 5-minute grid, so loading again later only adds the cycles that are new.
SELECT api.ingest_container_observations(coalesce(jsonb_agg(jsonb_build_object(
           'observed_at', to_char(o.observed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           'user_email', o.email,
           'user_name', o.name,
           'pod_name', o.pod_name,
           'node_name', o.node_name,
           'container_base', split_part(o.image, '|', 1),
           'container_version', split_part(o.image, '|', 2),
           'age_seconds', extract(epoch FROM o.observed_at - o.started_at)::integer)), '[]'))
  FROM (
    WITH people (n, name) AS (
        VALUES (1, 'Ada Lovelace'), (2, 'Alan Turing'), (3, 'Grace Hopper'), (4, 'Edsger Dijkstra'),
               (5, 'Barbara Liskov'), (6, 'Donald Knuth'), (7, 'Margaret Hamilton'), (8, 'John McCarthy'),
               (9, 'Frances Allen'), (10, 'Ken Thompson'), (11, 'Radia Perlman'), (12, 'Dennis Ritchie'),
               (13, 'Shafi Goldwasser'), (14, 'Leslie Lamport'), (15, 'Katherine Johnson'),
               (16, 'Tim Berners-Lee'), (17, 'Sophie Wilson'), (18, 'Guido van Rossum'),
               (19, 'Karen Sparck Jones'), (20, 'Yann LeCun'), (21, 'Fei-Fei Li'), (22, 'Geoffrey Hinton'),
               (23, 'Daphne Koller'), (24, 'Yoshua Bengio'), (25, 'Cynthia Dwork'), (26, 'Judea Pearl'),
               (27, 'Hedy Lamarr'), (28, 'Claude Shannon'), (29, 'Mary Somerville'), (30, 'John Tukey')
    ), users AS (
        SELECT n, name,
               lower(replace(replace(name, ' ', '.'), '-', '')) || '@example.org' AS email,
               -- KubeSpawner's escaping of the username: jupyter-ada-2elovelace-40example-2eorg
               'jupyter-' || replace(replace(lower(replace(replace(name, ' ', '.'), '-', '')), '.', '-2e'), '@', '-40')
                   || '-40example-2eorg' AS pod_prefix,
               -- favourite image; every fifth user trains models on GPUs
               (ARRAY['quay.io/jupyter/pytorch-notebook|cuda12-2024-05-27',
                      'quay.io/jupyter/scipy-notebook|2024-05-27',
                      'quay.io/jupyter/r-notebook|2024-05-27',
                      'quay.io/jupyter/datascience-notebook|2024-04-29',
                      'registry.example.com:5000/team/notebook|2024.05'])[n % 5 + 1] AS image
          FROM people
    ), planned AS (
        SELECT u.*, d.day, k.k,
               abs(hashtext(u.email || d.day || k.k || 'on')) % 100 AS roll_on,
               abs(hashtext(u.email || d.day || k.k || 'start')) % 300 AS start_minute,
               abs(hashtext(u.email || d.day || k.k || 'second')) % 60 AS start_second,
               abs(hashtext(u.email || d.day || k.k || 'length')) % 100 AS roll_length,
               abs(hashtext(u.email || d.day || k.k || 'gpu')) % 100 AS roll_gpu,
               abs(hashtext(u.email || d.day || k.k || 'node')) % 12 AS roll_node
          FROM users u
         CROSS JOIN (SELECT generate_series((now() AT TIME ZONE 'UTC')::date - 7,
                                            (now() AT TIME ZONE 'UTC')::date, interval '1 day')::date) d (day)
         CROSS JOIN (VALUES (1), (2)) k (k)
    ), sessions AS (
        -- k = 1: the default server, started 07:00-12:00; k = 2: a named server, 13:00-18:00.
        SELECT p.email, p.name,
               CASE WHEN p.k = 1 THEN p.pod_prefix ELSE p.pod_prefix || '--analysis' END AS pod_name,
               CASE WHEN p.image LIKE '%pytorch%' OR p.roll_gpu < 10
                    THEN 'quay.io/jupyter/pytorch-notebook|cuda12-2024-05-27' ELSE p.image END AS image,
               p.roll_node,
               s.started_at,
               -- pods are culled before the next morning, so a pod name is never live twice
               least(s.started_at + make_interval(mins => CASE
                         WHEN p.roll_length < 50 THEN 20 + p.roll_length * 2
                         WHEN p.roll_length < 85 THEN 120 + (p.roll_length - 50) * 8
                         ELSE 480 + (p.roll_length - 85) * 40 END),
                     (p.day + 1 + time '06:55') AT TIME ZONE 'UTC') AS ended_at
          FROM planned p
         CROSS JOIN LATERAL (SELECT (p.day + time '07:00' + make_interval(
                                        hours => (p.k - 1) * 6, mins => p.start_minute,
                                        secs => p.start_second)) AT TIME ZONE 'UTC' AS started_at) s
         WHERE p.roll_on < CASE WHEN extract(isodow FROM p.day) >= 6 THEN 20
                                WHEN p.k = 1 THEN 70 ELSE 30 END
        UNION ALL
        -- six users with a lab running right now
        SELECT u.email, u.name, u.pod_prefix || '--lab', u.image, u.n,
               date_trunc('hour', now()) - make_interval(mins => u.n * 47, secs => u.n * 7),
               now() + interval '1 day'
          FROM users u
         WHERE u.n <= 6
    )
    SELECT s.email, s.name, s.pod_name, s.image, s.started_at, t.observed_at,
           CASE WHEN s.image LIKE '%pytorch%'
                THEN (ARRAY['gke-hub-a100-pool-1a2b3c4d-x7k2', 'gke-hub-a100-pool-1a2b3c4d-m4p9',
                            'gke-hub-h100-pool-7f3c2b1a-q8r5'])[s.roll_node % 3 + 1]
                ELSE (ARRAY['gke-hub-cpu-pool-9f8e7d6c-q1w2', 'gke-hub-cpu-pool-9f8e7d6c-z9x8',
                            'gke-hub-cpu-pool-9f8e7d6c-k3j4', 'gke-hub-cpu-pool-9f8e7d6c-t5y6'])[s.roll_node % 4 + 1]
           END AS node_name
      FROM sessions s
     CROSS JOIN LATERAL generate_series(
               date_bin('5 minutes', s.started_at, timestamptz '2000-01-03 00:00:00+00') + interval '5 minutes',
               least(s.ended_at, now()),
               interval '5 minutes') AS t (observed_at)
     WHERE s.started_at < now() - interval '5 minutes'
  ) o;
