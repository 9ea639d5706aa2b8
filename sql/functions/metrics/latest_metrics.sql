-- Latest value per metric name of one schema (DESIGN §5), from metrics.latest_by_name.
-- One body, metrics.latest_metrics; the four API functions only name the schema.

-- The latest value of every metric of p_schema: last_value, or for schema cumsum the
-- running total (total_sum). Plain SQL without SET or STRICT, so it is inlined into
-- the API functions below. Internal: no EXECUTE for the API roles.
CREATE OR REPLACE FUNCTION metrics.latest_metrics(p_schema text)
RETURNS TABLE("timestamp" timestamptz, table_name text, value text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT metrics.floor_to(l.last_time, interval '1 minute'), l.name,
           (CASE WHEN p_schema = 'cumsum' THEN l.total_sum ELSE l.last_value END)::text
    FROM metrics.latest_by_name AS l
    WHERE l.schema = p_schema
      -- a metric whose latest series a stale marker ended after that sample has gone
      -- (not a running total: that stays)
      AND (p_schema = 'cumsum'
           OR NOT EXISTS (SELECT 1 FROM metrics.series AS s
                          WHERE s.id = l.last_series AND s.ended_at > l.last_time))
$$;

COMMENT ON FUNCTION metrics.latest_metrics(text) IS
$$Latest value of every metric of schema p_schema (the running total for schema cumsum), one row per metric name (table_name), with the minute of its latest sample; unordered. A metric whose latest series has gone (a stale marker later than that sample) is left out, except in schema cumsum.$$;
REVOKE ALL ON FUNCTION metrics.latest_metrics(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION api.get_all_latest_mainnet_metrics()
RETURNS TABLE("timestamp" timestamptz, table_name text, value text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, metrics, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=60, stale-while-revalidate=300'
AS $$
    SELECT m."timestamp", m.table_name, m.value
    FROM metrics.latest_metrics('mainnet') AS m
    ORDER BY m.table_name
$$;

COMMENT ON FUNCTION api.get_all_latest_mainnet_metrics() IS
$$Latest value of every metric of schema mainnet, one row per metric name (table_name), with the minute of its latest sample. Values are text with every digit.$$;
REVOKE ALL ON FUNCTION api.get_all_latest_mainnet_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_all_latest_mainnet_metrics() TO web_anon, writer;

CREATE OR REPLACE FUNCTION api.get_all_latest_testnet_metrics()
RETURNS TABLE("timestamp" timestamptz, table_name text, value text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, metrics, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=60, stale-while-revalidate=300'
AS $$
    SELECT m."timestamp", m.table_name, m.value
    FROM metrics.latest_metrics('testnet') AS m
    ORDER BY m.table_name
$$;

COMMENT ON FUNCTION api.get_all_latest_testnet_metrics() IS
$$Latest value of every metric of schema testnet, one row per metric name (table_name), with the minute of its latest sample. Values are text with every digit.$$;
REVOKE ALL ON FUNCTION api.get_all_latest_testnet_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_all_latest_testnet_metrics() TO web_anon, writer;

CREATE OR REPLACE FUNCTION api.get_all_latest_common_metrics()
RETURNS TABLE("timestamp" timestamptz, table_name text, value text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, metrics, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=60, stale-while-revalidate=300'
AS $$
    SELECT m."timestamp", m.table_name, m.value
    FROM metrics.latest_metrics('common') AS m
    ORDER BY m.table_name
$$;

COMMENT ON FUNCTION api.get_all_latest_common_metrics() IS
$$Latest value of every metric of schema common, one row per metric name (table_name), with the minute of its latest sample. Values are text with every digit.$$;
REVOKE ALL ON FUNCTION api.get_all_latest_common_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_all_latest_common_metrics() TO web_anon, writer;

CREATE OR REPLACE FUNCTION api.get_all_latest_cumsum_metrics()
RETURNS TABLE("timestamp" timestamptz, table_name text, value text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, metrics, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=60, stale-while-revalidate=300'
AS $$
    SELECT m."timestamp", m.table_name, m.value
    FROM metrics.latest_metrics('cumsum') AS m
    ORDER BY m.table_name
$$;

COMMENT ON FUNCTION api.get_all_latest_cumsum_metrics() IS
$$Running total of every cumulative metric (schema cumsum): the sum of all its samples ever written, one row per metric name (table_name), with the minute of its latest sample.$$;
REVOKE ALL ON FUNCTION api.get_all_latest_cumsum_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_all_latest_cumsum_metrics() TO web_anon, writer;
