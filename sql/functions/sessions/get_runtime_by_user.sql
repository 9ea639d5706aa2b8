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
    v_from timestamptz;
    v_to   timestamptz;
    v_limit integer := sessions.check_limit(p_limit);
BEGIN
    -- Arguments are checked before any data is read, so bad input fails even on no data.
    SELECT r.range_from, r.range_to INTO v_from, v_to FROM sessions.resolve_range(p_from, p_to) r;
    RETURN QUERY
        SELECT u.email,
               u.name,
               round(sum(c.seconds_in_range) / 3600, 4),
               round(coalesce(sum(c.seconds_in_range) FILTER (WHERE c.node_class = 'gpu'), 0) / 3600, 4),
               round(coalesce(sum(c.seconds_in_range) FILTER (WHERE c.node_class <> 'gpu'), 0) / 3600, 4),
               count(*),
               count(DISTINCT c.pod_name),
               count(DISTINCT c.container_base),
               max(c.last_observed_at)
          FROM sessions.sessions_in_range(v_from, v_to) c
          JOIN sessions.users u ON u.user_id = c.user_id
         GROUP BY u.user_id, u.email, u.name
         ORDER BY sum(c.seconds_in_range) DESC, u.email
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
