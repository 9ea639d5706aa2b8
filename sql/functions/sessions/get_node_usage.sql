CREATE OR REPLACE FUNCTION api.get_node_usage(
    p_interval interval DEFAULT '1 hour',
    p_from     timestamptz DEFAULT NULL,
    p_to       timestamptz DEFAULT NULL)
RETURNS TABLE (
    "timestamp"  timestamptz,
    node_name    text,
    node_class   text,
    unique_users bigint,
    containers   bigint
)
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=60'
AS $$
    WITH u AS (SELECT * FROM sessions.usage_buckets('node', p_interval, p_from, p_to)),
    classes AS MATERIALIZED (  -- one node_class_of call per node, not per row
        SELECT n.node_name, sessions.node_class_of(n.node_name) AS node_class
          FROM (SELECT DISTINCT u.node_name FROM u) n)
    SELECT u.bucket, u.node_name, c.node_class, u.users, u.containers
      FROM u
      JOIN classes c USING (node_name)
     ORDER BY u.bucket, u.node_name
$$;

COMMENT ON FUNCTION api.get_node_usage(interval, timestamptz, timestamptz) IS
    'Per bucket of p_interval (default 1 hour) and node over [p_from, p_to) (default: the last '
    '7 days), oldest first: the node''s class (gpu/cpu), distinct users and containers (pod lives) '
    'running on it at some point in the bucket.';
REVOKE ALL ON FUNCTION api.get_node_usage(interval, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_node_usage(interval, timestamptz, timestamptz) TO web_anon, writer;
