CREATE OR REPLACE FUNCTION api.get_runtime_by_user(
    p_from  timestamptz DEFAULT NULL,
    p_to    timestamptz DEFAULT NULL,
    p_limit integer DEFAULT 100)
RETURNS TABLE (
    user_email   text,
    user_name    text,
    total_hours  numeric,
    gpu_hours    numeric,
    cpu_hours    numeric,
    sessions     bigint,
    containers   bigint,
    applications bigint,
    last_seen    timestamptz
)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=60'
AS $$
#variable_conflict use_column
DECLARE
    v_from  timestamptz;
    v_to    timestamptz;
    v_limit integer := sessions.check_limit(p_limit);
    v_first timestamptz;
    v_end   timestamptz;
    v_month_first timestamptz;
    v_month_end   timestamptz;
BEGIN
    -- Arguments are checked before any data is read, so bad input fails even on no data.
    SELECT r.range_from, r.range_to INTO v_from, v_to FROM sessions.resolve_range(p_from, p_to) r;
    SELECT w.first_day, w.end_day INTO v_first, v_end FROM sessions.whole_days(v_from, v_to) w;
    IF v_first >= v_end THEN
        v_first := v_to;  -- no whole day inside: everything from the sessions
        v_end := v_to;
    END IF;
    -- the whole UTC months inside the whole days, read from sessions.user_months
    v_month_first := date_trunc('month', v_first, 'UTC');
    IF v_month_first < v_first THEN
        v_month_first := (date_trunc('month', v_first AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
    END IF;
    v_month_end := date_trunc('month', v_end, 'UTC');
    IF v_month_first >= v_month_end THEN
        v_month_first := v_end;
        v_month_end := v_end;
    END IF;
    -- Every session overlapping the range is counted once: in the rollup month or day it
    -- started in (whole months, whole days), or below when it was running at p_from,
    -- started in a partial day, or is a zero-length session at a midnight (those touch no
    -- day). Time inside the range is the whole months' and days' time plus the partial
    -- days' clipped time.
    RETURN QUERY
        WITH parts AS (
            SELECT r.user_id, r.node_name, r.pod_name, r.container_base, r.starts AS n,
                   r.seconds, r.last_observed_at
              FROM sessions.user_days r
             WHERE r.day >= v_first AND r.day < v_month_first
            UNION ALL
            SELECT r.user_id, r.node_name, r.pod_name, r.container_base, r.starts, r.seconds,
                   r.last_observed_at
              FROM sessions.user_days r
             WHERE r.day >= v_month_end AND r.day < v_end
            UNION ALL
            SELECT c.user_id, c.node_name, c.pod_name, c.container_base, 0, c.seconds_in_range, NULL
              FROM sessions.sessions_in_range(v_from, v_first) c
            UNION ALL
            SELECT c.user_id, c.node_name, c.pod_name, c.container_base, 0, c.seconds_in_range, NULL
              FROM sessions.sessions_in_range(v_end, v_to) c
            UNION ALL
            SELECT s.user_id, s.node_name, s.pod_name, s.container_base, 1, 0, s.last_observed_at
              FROM sessions.sessions s
             WHERE tstzrange(s.started_at, s.ended_at, '[]') @> v_from
               AND s.started_at < v_from AND s.ended_at > v_from
               AND v_from < v_to  -- an empty range overlaps nothing
            UNION ALL
            SELECT s.user_id, s.node_name, s.pod_name, s.container_base, 1, 0, s.last_observed_at
              FROM sessions.sessions s
             WHERE (s.started_at >= v_from AND s.started_at < v_first AND s.ended_at > v_from)
            UNION ALL
            SELECT s.user_id, s.node_name, s.pod_name, s.container_base, 1, 0, s.last_observed_at
              FROM sessions.sessions s
             WHERE s.started_at >= v_end AND s.started_at < v_to AND s.ended_at > v_from
            UNION ALL
            SELECT s.user_id, s.node_name, s.pod_name, s.container_base, 1, 0, s.last_observed_at
              FROM sessions.sessions s
             WHERE s.started_at = s.ended_at
               AND s.started_at >= v_first AND s.started_at < v_end AND s.started_at > v_from
               AND s.started_at = date_trunc('day', s.started_at, 'UTC')
        ), classes AS MATERIALIZED (  -- one node_class_of call per node, not per row
            SELECT n.node_name, sessions.node_class_of(n.node_name) AS node_class
              FROM (SELECT DISTINCT p.node_name FROM parts p) n
        ), per_user AS (
            SELECT p.user_id,
                   coalesce(sum(p.seconds) FILTER (WHERE k.node_class = 'gpu'), 0) AS gpu_seconds,
                   coalesce(sum(p.seconds) FILTER (WHERE k.node_class <> 'gpu'), 0) AS cpu_seconds,
                   sum(p.n) AS n,
                   coalesce(array_agg(p.pod_name) FILTER (WHERE p.n > 0), '{}') AS pods,
                   coalesce(array_agg(p.container_base) FILTER (WHERE p.n > 0), '{}') AS bases,
                   max(p.last_observed_at) AS last_observed_at
              FROM parts p
              JOIN classes k USING (node_name)
             GROUP BY p.user_id
            UNION ALL
            SELECT m.user_id, m.gpu_seconds, m.cpu_seconds, m.starts, m.pods, m.bases,
                   m.last_observed_at
              FROM sessions.user_months m
             WHERE m.month >= v_month_first AND m.month < v_month_end
        ), totals AS (
            SELECT t.user_id, sum(t.gpu_seconds) AS gpu_seconds, sum(t.cpu_seconds) AS cpu_seconds,
                   sum(t.n) AS n, sessions.array_cat_agg(t.pods) AS pods,
                   sessions.array_cat_agg(t.bases) AS bases, max(t.last_observed_at) AS last_observed_at
              FROM per_user t
             GROUP BY t.user_id
        )
        SELECT u.email,
               u.name,
               round((t.gpu_seconds + t.cpu_seconds) / 3600, 4),
               round(t.gpu_seconds / 3600, 4),
               round(t.cpu_seconds / 3600, 4),
               t.n::bigint,
               (SELECT count(DISTINCT x) FROM unnest(t.pods) AS x),
               (SELECT count(DISTINCT x) FROM unnest(t.bases) AS x),
               t.last_observed_at
          FROM totals t
          JOIN sessions.users u ON u.user_id = t.user_id
         ORDER BY t.gpu_seconds + t.cpu_seconds DESC, u.email
         LIMIT v_limit;
END
$$;

COMMENT ON FUNCTION api.get_runtime_by_user(timestamptz, timestamptz, integer) IS
    'JupyterHub container runtime per user over [p_from, p_to) (default: the last 7 days), '
    'most hours first, at most p_limit users. A session overlapping the range counts the part '
    'inside it. gpu/cpu hours split by node class (sessions.node_classes); sessions = pod lives, '
    'containers = distinct pod names (servers), applications = distinct image bases, '
    'last_seen = latest observation of those sessions.';
REVOKE ALL ON FUNCTION api.get_runtime_by_user(timestamptz, timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_runtime_by_user(timestamptz, timestamptz, integer) TO web_anon, writer;
