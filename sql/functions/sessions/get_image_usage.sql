CREATE OR REPLACE FUNCTION api.get_image_usage(
    p_interval interval DEFAULT '1 hour',
    p_from     timestamptz DEFAULT NULL,
    p_to       timestamptz DEFAULT NULL)
RETURNS TABLE (
    "timestamp"       timestamptz,
    container_base    text,
    container_version text,
    unique_users      bigint,
    containers        bigint
)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_from timestamptz;
    v_to   timestamptz;
    v_width interval;
BEGIN
    -- Arguments are checked before any data is read, so bad input fails even on no data.
    SELECT r.range_from, r.range_to INTO v_from, v_to FROM sessions.resolve_range(p_from, p_to) r;
    v_width := sessions.check_interval(p_interval, v_from, v_to);
    RETURN QUERY
        SELECT b.bucket, c.container_base, c.container_version, count(DISTINCT c.user_id), count(*)
          FROM sessions.sessions_in_range(v_from, v_to) c
         CROSS JOIN LATERAL sessions.buckets_of_span(c.clip_start, c.clip_end, v_width) AS b(bucket)
         GROUP BY b.bucket, c.container_base, c.container_version
         ORDER BY b.bucket, c.container_base, c.container_version;
END
$$;

COMMENT ON FUNCTION api.get_image_usage(interval, timestamptz, timestamptz) IS
    'Per bucket of p_interval (default 1 hour) and image (base, version) over [p_from, p_to) '
    '(default: the last 7 days), oldest first: distinct users and containers (pod lives) running '
    'that image at some point in the bucket.';
REVOKE ALL ON FUNCTION api.get_image_usage(interval, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_image_usage(interval, timestamptz, timestamptz) TO web_anon, writer;
