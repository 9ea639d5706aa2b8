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
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=60'
AS $$
    SELECT u.bucket, u.container_base, u.container_version, u.users, u.containers
      FROM sessions.usage_buckets('image', p_interval, p_from, p_to) u
     ORDER BY u.bucket, u.container_base, u.container_version
$$;

COMMENT ON FUNCTION api.get_image_usage(interval, timestamptz, timestamptz) IS
    'Per bucket of p_interval (default 1 hour) and image (base, version) over [p_from, p_to) '
    '(default: the last 7 days), oldest first: distinct users and containers (pod lives) running '
    'that image at some point in the bucket.';
REVOKE ALL ON FUNCTION api.get_image_usage(interval, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_image_usage(interval, timestamptz, timestamptz) TO web_anon, writer;
