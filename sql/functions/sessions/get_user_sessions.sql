CREATE OR REPLACE FUNCTION api.get_user_sessions(
    p_user_email text,
    p_from       timestamptz DEFAULT NULL,
    p_to         timestamptz DEFAULT NULL)
RETURNS TABLE (
    session_start     timestamptz,
    session_end       timestamptz,
    runtime_hours     numeric,
    pod_name          text,
    node_name         text,
    container_base    text,
    container_version text,
    active            boolean
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
BEGIN
    -- Arguments are checked before any data is read, so bad input fails even on no data.
    SELECT r.range_from, r.range_to INTO v_from, v_to FROM sessions.resolve_range(p_from, p_to) r;
    IF p_user_email IS NULL OR btrim(p_user_email) = '' THEN
        RAISE EXCEPTION 'p_user_email is required' USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
        SELECT c.started_at,
               c.ended_at,
               round(c.seconds_in_range / 3600, 4),
               c.pod_name,
               c.node_name,
               c.container_base,
               c.container_version,
               -- Seen within the last three default collection cycles (3 × 300 s).
               c.last_observed_at >= now() - interval '15 minutes'
          FROM sessions.sessions_in_range(v_from, v_to) c
          JOIN sessions.users u ON u.user_id = c.user_id
         WHERE u.email = lower(btrim(p_user_email))
         ORDER BY c.started_at DESC, c.pod_name, c.node_name;
END
$$;

COMMENT ON FUNCTION api.get_user_sessions(text, timestamptz, timestamptz) IS
    'Sessions (pod lives) of one user (email, case-insensitive) overlapping [p_from, p_to) '
    '(default: the last 7 days), newest first. session_start/session_end are the whole pod life; '
    'runtime_hours is the part inside the range, so the rows add up to get_runtime_by_user. '
    'active = seen by the collector in the last 15 minutes.';
REVOKE ALL ON FUNCTION api.get_user_sessions(text, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_user_sessions(text, timestamptz, timestamptz) TO web_anon, writer;
