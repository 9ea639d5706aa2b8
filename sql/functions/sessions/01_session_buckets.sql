-- The part every bucketed sessions function shares: arguments checked, range resolved,
-- and one row per (bucket, clipped session) for the caller to group as it needs.
CREATE OR REPLACE FUNCTION sessions.session_buckets(
    p_interval interval, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (
    bucket            timestamptz,
    user_id           bigint,
    node_name         text,
    node_class        text,
    container_base    text,
    container_version text
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_from timestamptz;
    v_to   timestamptz;
    v_width interval;
BEGIN
    -- plpgsql, so the checks run before any data is read: bad input fails even on no data.
    SELECT r.range_from, r.range_to INTO v_from, v_to FROM sessions.resolve_range(p_from, p_to) r;
    v_width := sessions.check_interval(p_interval, v_from, v_to);
    RETURN QUERY
        SELECT b.bucket, c.user_id, c.node_name, c.node_class, c.container_base,
               c.container_version
          FROM sessions.sessions_in_range(v_from, v_to) c
         CROSS JOIN LATERAL sessions.buckets_of_span(c.clip_start, c.clip_end, v_width) AS b(bucket);
END
$$;

COMMENT ON FUNCTION sessions.session_buckets(interval, timestamptz, timestamptz) IS
    'One row per bucket of p_interval that each session overlapping [p_from, p_to) touches.';
REVOKE ALL ON FUNCTION sessions.session_buckets(interval, timestamptz, timestamptz) FROM PUBLIC;
