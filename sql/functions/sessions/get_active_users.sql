CREATE OR REPLACE FUNCTION api.get_active_users(
    p_interval interval DEFAULT '1 hour',
    p_from     timestamptz DEFAULT NULL,
    p_to       timestamptz DEFAULT NULL)
RETURNS TABLE ("timestamp" timestamptz, active_users bigint, containers bigint)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=60'
AS $$
    SELECT u.bucket, u.users, u.containers
      FROM sessions.usage_buckets('all', p_interval, p_from, p_to) u
     ORDER BY u.bucket
$$;

COMMENT ON FUNCTION api.get_active_users(interval, timestamptz, timestamptz) IS
    'Per bucket of p_interval (default 1 hour; UTC-aligned, months calendar-aligned) over '
    '[p_from, p_to) (default: the last 7 days), oldest first, only buckets with data: distinct '
    'users and containers (pod lives) running at some point in the bucket.';
REVOKE ALL ON FUNCTION api.get_active_users(interval, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_active_users(interval, timestamptz, timestamptz) TO web_anon, writer;
