-- Per-day session rollups, kept current by the observations trigger in the same
-- transaction, so year-long reads add up days instead of clipping every session.
-- Days are UTC days [day, day + 24 h). A session "touches" a day when it overlaps it:
-- started_at < day + 24 h AND ended_at > day (a zero-length session exactly at
-- midnight touches no day; the read functions take those from sessions.sessions).

-- One row per (day, user, node, pod, image): the sessions touching that day.
CREATE TABLE sessions.user_days (
    day               timestamptz NOT NULL,
    user_id           bigint NOT NULL REFERENCES sessions.users (user_id),
    node_name         text NOT NULL,
    pod_name          text NOT NULL,
    container_base    text NOT NULL,
    container_version text NOT NULL,
    containers        integer NOT NULL CHECK (containers > 0),
    starts            integer NOT NULL CHECK (starts >= 0 AND starts <= containers),
    seconds           numeric NOT NULL CHECK (seconds >= 0),
    last_observed_at  timestamptz,
    PRIMARY KEY (day, user_id, node_name, pod_name, container_base, container_version),
    CHECK ((last_observed_at IS NULL) = (starts = 0))
);
COMMENT ON TABLE sessions.user_days IS
    'Sessions touching each UTC day, per user, node, pod and image; maintained by sessions.apply_observations';
-- A user's days (the monthly rollup is rebuilt from them).
CREATE INDEX user_days_user_idx ON sessions.user_days (user_id, day);
COMMENT ON COLUMN sessions.user_days.containers IS 'Sessions (pod lives) touching the day';
COMMENT ON COLUMN sessions.user_days.starts IS 'Of those, the sessions that started in the day';
COMMENT ON COLUMN sessions.user_days.seconds IS 'Their time inside the day, in seconds (exact)';
COMMENT ON COLUMN sessions.user_days.last_observed_at IS
    'Latest observation of the sessions that started in the day (NULL when none did)';

-- Per day: distinct users and containers, overall (kind all), per node and per image.
-- Columns that do not apply to a kind are ''.
CREATE TABLE sessions.day_usage (
    kind              text NOT NULL CHECK (kind IN ('all', 'node', 'image')),
    day               timestamptz NOT NULL,
    node_name         text NOT NULL,
    container_base    text NOT NULL,
    container_version text NOT NULL,
    users             integer NOT NULL,
    containers        integer NOT NULL,
    PRIMARY KEY (day, kind, node_name, container_base, container_version)
);
COMMENT ON TABLE sessions.day_usage IS
    'Distinct users and containers touching each UTC day (all, per node, per image); from sessions.user_days';

-- Per UTC month and user: what get_runtime_by_user adds up over long ranges (a year is
-- 12 rows a user instead of a row per day, node, pod and image). GPU/CPU by the node
-- class at write time: a change to sessions.node_classes rebuilds this table.
CREATE TABLE sessions.user_months (
    month            timestamptz NOT NULL,
    user_id          bigint NOT NULL REFERENCES sessions.users (user_id),
    gpu_seconds      numeric NOT NULL,
    cpu_seconds      numeric NOT NULL,
    starts           integer NOT NULL,
    pods             text[] NOT NULL,
    bases            text[] NOT NULL,
    last_observed_at timestamptz,
    PRIMARY KEY (month, user_id)
);
COMMENT ON TABLE sessions.user_months IS
    'Per UTC month and user, from sessions.user_days: GPU/CPU seconds inside the month, sessions '
    'started in it, their distinct pods and image bases and latest observation';

-- sessions.user_months.pods and .bases across months: one array per user.
CREATE AGGREGATE sessions.array_cat_agg(anycompatiblearray) (
    SFUNC = array_cat, STYPE = anycompatiblearray, INITCOND = '{}');

-- Reads of the ragged range edges: sessions starting in a partial day, zero-length ones.
CREATE INDEX sessions_started_idx ON sessions.sessions (started_at);
CREATE INDEX sessions_instant_idx ON sessions.sessions (started_at) WHERE started_at = ended_at;
-- The trigger's "sessions of this user touching this day": recent days are the usual case.
CREATE INDEX sessions_user_ended_idx ON sessions.sessions (user_id, ended_at);

-- The UTC days a span [p_start, p_end] may touch (a superset: the day of p_end is
-- included even when p_end is its midnight).
CREATE FUNCTION sessions.days_of_span(p_start timestamptz, p_end timestamptz)
RETURNS SETOF timestamptz
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
ROWS 2
BEGIN ATOMIC
    SELECT d
      FROM generate_series(date_trunc('day', p_start, 'UTC'), p_end, interval '24 hours') AS d;
END;
COMMENT ON FUNCTION sessions.days_of_span(timestamptz, timestamptz) IS
    'UTC midnights from the day of p_start up to p_end';
REVOKE ALL ON FUNCTION sessions.days_of_span(timestamptz, timestamptz) FROM PUBLIC;

-- Rebuild sessions.user_months for the (user, month of day) pairs from sessions.user_days.
CREATE FUNCTION sessions.refresh_user_months(p_users bigint[], p_days timestamptz[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM sessions.user_months r
     USING (SELECT DISTINCT u, date_trunc('month', d, 'UTC') AS m
              FROM unnest(p_users, p_days) AS x(u, d)) a
     WHERE r.month = a.m AND r.user_id = a.u;
    WITH a AS (
        SELECT DISTINCT u, date_trunc('month', d, 'UTC') AS m
          FROM unnest(p_users, p_days) AS x(u, d)
    ), r AS MATERIALIZED (
        SELECT a.m, d.*
          FROM a
          JOIN sessions.user_days d
            ON d.user_id = a.u
           AND d.day >= a.m
           AND d.day < (date_trunc('month', a.m AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'
    ), k AS MATERIALIZED (  -- one node_class_of call per node
        SELECT n.node_name, sessions.node_class_of(n.node_name) AS node_class
          FROM (SELECT DISTINCT r.node_name FROM r) n
    )
    INSERT INTO sessions.user_months (
        month, user_id, gpu_seconds, cpu_seconds, starts, pods, bases, last_observed_at)
    SELECT r.m, r.user_id,
           coalesce(sum(r.seconds) FILTER (WHERE k.node_class = 'gpu'), 0),
           coalesce(sum(r.seconds) FILTER (WHERE k.node_class <> 'gpu'), 0),
           sum(r.starts),
           coalesce(array_agg(DISTINCT r.pod_name) FILTER (WHERE r.starts > 0), '{}'),
           coalesce(array_agg(DISTINCT r.container_base) FILTER (WHERE r.starts > 0), '{}'),
           max(r.last_observed_at)
      FROM r JOIN k USING (node_name)
     GROUP BY r.m, r.user_id;
END
$$;
COMMENT ON FUNCTION sessions.refresh_user_months(bigint[], timestamptz[]) IS
    'Recompute sessions.user_months for the users and the months of the days given';
REVOKE ALL ON FUNCTION sessions.refresh_user_months(bigint[], timestamptz[]) FROM PUBLIC;

-- The GPU/CPU split of user_months follows the node classes: any change rebuilds it.
CREATE FUNCTION sessions.node_classes_changed()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM sessions.refresh_user_months(array_agg(p.user_id), array_agg(p.month))
       FROM (SELECT DISTINCT user_id, month FROM sessions.user_months) p;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION sessions.node_classes_changed() FROM PUBLIC;
CREATE TRIGGER node_classes_rebuild_months
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sessions.node_classes
    FOR EACH STATEMENT
    EXECUTE FUNCTION sessions.node_classes_changed();

-- Rebuild the rollup rows of the given (user, day) pairs from sessions.sessions, then the
-- per-day totals of those days. Recomputing (not adding deltas) keeps distinct counts and
-- the latest observation exact whatever changed.
CREATE FUNCTION sessions.refresh_day_rollups(p_users bigint[], p_days timestamptz[])
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_days timestamptz[] := ARRAY(SELECT DISTINCT d FROM unnest(p_days) AS d);
BEGIN
    IF coalesce(cardinality(p_users), 0) = 0 THEN
        RETURN;
    END IF;
    DELETE FROM sessions.user_days r
     USING (SELECT DISTINCT u, d FROM unnest(p_users, p_days) AS x(u, d)) a
     WHERE r.day = a.d AND r.user_id = a.u;
    INSERT INTO sessions.user_days (
        day, user_id, node_name, pod_name, container_base, container_version,
        containers, starts, seconds, last_observed_at)
    SELECT a.d, s.user_id, s.node_name, s.pod_name, s.container_base, s.container_version,
           count(*),
           count(*) FILTER (WHERE s.started_at >= a.d),
           sum(extract(epoch FROM least(s.ended_at, a.d + interval '24 hours')
                                  - greatest(s.started_at, a.d))),
           max(s.last_observed_at) FILTER (WHERE s.started_at >= a.d)
      FROM (SELECT DISTINCT u, d FROM unnest(p_users, p_days) AS x(u, d)) a
      JOIN sessions.sessions s
        ON s.user_id = a.u
       -- the span index finds a day's sessions (a collection cycle touches one or two days)
       AND tstzrange(s.started_at, s.ended_at, '[]') && tstzrange(a.d, a.d + interval '24 hours', '[)')
       AND s.started_at < a.d + interval '24 hours'
       AND s.ended_at > a.d
     GROUP BY a.d, s.user_id, s.node_name, s.pod_name, s.container_base, s.container_version;

    PERFORM sessions.refresh_user_months(p_users, p_days);

    DELETE FROM sessions.day_usage r WHERE r.day = ANY (v_days);
    INSERT INTO sessions.day_usage (
        kind, day, node_name, container_base, container_version, users, containers)
    SELECT CASE WHEN grouping(r.node_name) = 0 THEN 'node'
                WHEN grouping(r.container_base) = 0 THEN 'image'
                ELSE 'all' END,
           r.day, coalesce(r.node_name, ''), coalesce(r.container_base, ''),
           coalesce(r.container_version, ''),
           count(DISTINCT r.user_id), sum(r.containers)
      FROM sessions.user_days r
     WHERE r.day = ANY (v_days)
     GROUP BY GROUPING SETS ((r.day), (r.day, r.node_name),
                             (r.day, r.container_base, r.container_version));
END
$$;
COMMENT ON FUNCTION sessions.refresh_day_rollups(bigint[], timestamptz[]) IS
    'Recompute sessions.user_days for the (user, day) pairs and sessions.day_usage for their days';
REVOKE ALL ON FUNCTION sessions.refresh_day_rollups(bigint[], timestamptz[]) FROM PUBLIC;

-- The trigger of 0045, plus the day rollups of the days each changed session touches.
CREATE OR REPLACE FUNCTION sessions.apply_observations()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_users bigint[];
    v_days  timestamptz[];
BEGIN
    UPDATE sessions.users u
       SET first_seen = least(u.first_seen, g.first_seen),
           last_seen  = greatest(u.last_seen, g.last_seen)
      FROM (SELECT n.user_id, min(n.observed_at) AS first_seen, max(n.observed_at) AS last_seen
              FROM new_rows n
             GROUP BY n.user_id) g
     WHERE u.user_id = g.user_id;

    WITH g AS (
        SELECT o.user_id, o.pod_name, o.node_name, o.start_minute,
               min(o.started_at) AS started_at,
               max(o.age_seconds) AS runtime_seconds,
               min(o.observed_at) AS first_observed_at,
               max(o.observed_at) AS last_observed_at,
               count(*)::integer AS observations,
               (array_agg(o.container_base ORDER BY o.observed_at DESC))[1] AS container_base,
               (array_agg(o.container_version ORDER BY o.observed_at DESC))[1] AS container_version
          FROM (SELECT n.*,
                       n.observed_at - make_interval(secs => n.age_seconds) AS started_at,
                       date_trunc('minute', n.observed_at - make_interval(secs => n.age_seconds), 'UTC')
                           AS start_minute
                  FROM new_rows n) o
         GROUP BY o.user_id, o.pod_name, o.node_name, o.start_minute
    ), prior AS (
        -- the same statement's snapshot: the sessions as they were before the upsert
        SELECT s.user_id, s.pod_name, s.node_name, s.start_minute, s.started_at, s.ended_at,
               s.container_base, s.container_version
          FROM sessions.sessions s
          JOIN g USING (user_id, pod_name, node_name, start_minute)
    ), up AS (
        INSERT INTO sessions.sessions AS s (
            user_id, pod_name, node_name, start_minute, started_at, ended_at, runtime_seconds,
            first_observed_at, last_observed_at, observations, container_base, container_version)
        SELECT g.user_id, g.pod_name, g.node_name, g.start_minute, g.started_at,
               g.started_at + make_interval(secs => g.runtime_seconds), g.runtime_seconds,
               g.first_observed_at, g.last_observed_at, g.observations,
               g.container_base, g.container_version
          FROM g
        ON CONFLICT (user_id, pod_name, node_name, start_minute) DO UPDATE
           SET started_at        = least(s.started_at, excluded.started_at),
               runtime_seconds   = greatest(s.runtime_seconds, excluded.runtime_seconds),
               ended_at          = least(s.started_at, excluded.started_at)
                                   + make_interval(secs => greatest(s.runtime_seconds, excluded.runtime_seconds)),
               first_observed_at = least(s.first_observed_at, excluded.first_observed_at),
               last_observed_at  = greatest(s.last_observed_at, excluded.last_observed_at),
               observations      = s.observations + excluded.observations,
               container_base    = CASE WHEN excluded.last_observed_at > s.last_observed_at
                                        THEN excluded.container_base ELSE s.container_base END,
               container_version = CASE WHEN excluded.last_observed_at > s.last_observed_at
                                        THEN excluded.container_version ELSE s.container_version END
        RETURNING s.user_id, s.pod_name, s.node_name, s.start_minute, s.started_at, s.ended_at,
                  s.container_base, s.container_version
    ), changed AS (
        -- A session's start stays in its start minute, so only the start day and the days
        -- between its old and new end can change; a new image changes every day it touches.
        SELECT up.user_id, d.day
          FROM up
          LEFT JOIN prior USING (user_id, pod_name, node_name, start_minute)
         CROSS JOIN LATERAL (
               SELECT sessions.days_of_span(up.started_at, up.ended_at)
                WHERE prior.user_id IS NULL
                   OR (prior.container_base, prior.container_version)
                      IS DISTINCT FROM (up.container_base, up.container_version)
               UNION ALL
               SELECT sessions.days_of_span(prior.started_at, prior.ended_at)
                WHERE (prior.container_base, prior.container_version)
                      IS DISTINCT FROM (up.container_base, up.container_version)
               UNION ALL
               SELECT date_trunc('day', x, 'UTC')
                 FROM unnest(ARRAY[prior.started_at, up.started_at]) AS x
                WHERE prior.user_id IS NOT NULL
               UNION ALL
               SELECT sessions.days_of_span(least(prior.ended_at, up.ended_at),
                                            greatest(prior.ended_at, up.ended_at))
                WHERE prior.user_id IS NOT NULL) AS d(day)
    )
    SELECT array_agg(c.user_id), array_agg(c.day)
      INTO v_users, v_days
      FROM (SELECT DISTINCT changed.user_id, changed.day FROM changed) c;

    PERFORM sessions.refresh_day_rollups(v_users, v_days);
    RETURN NULL;
END
$$;

-- Existing sessions: every (user, day) they touch.
SELECT sessions.refresh_day_rollups(array_agg(p.user_id), array_agg(p.day))
  FROM (SELECT DISTINCT s.user_id, d.day
          FROM sessions.sessions s
         CROSS JOIN LATERAL sessions.days_of_span(s.started_at, s.ended_at) AS d(day)) p;
