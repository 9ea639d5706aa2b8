-- Latest value per metric name of one schema (DESIGN §5), from metrics.latest_by_name.
CREATE OR REPLACE FUNCTION api.get_all_latest_mainnet_metrics()
RETURNS TABLE("timestamp" timestamptz, table_name text, value text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, metrics
AS $$
    SELECT metrics.floor_to(l.last_time, interval '1 minute'), l.name, l.last_value::text
    FROM metrics.latest_by_name AS l
    WHERE l.schema = 'mainnet'
    ORDER BY l.name
$$;

COMMENT ON FUNCTION api.get_all_latest_mainnet_metrics() IS
$$Latest value of every metric of schema mainnet, one row per metric name (table_name), with the minute of its latest sample. Values are text with every digit.$$;
REVOKE ALL ON FUNCTION api.get_all_latest_mainnet_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_all_latest_mainnet_metrics() TO web_anon, writer;

CREATE OR REPLACE FUNCTION api.get_all_latest_testnet_metrics()
RETURNS TABLE("timestamp" timestamptz, table_name text, value text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, metrics
AS $$
    SELECT metrics.floor_to(l.last_time, interval '1 minute'), l.name, l.last_value::text
    FROM metrics.latest_by_name AS l
    WHERE l.schema = 'testnet'
    ORDER BY l.name
$$;

COMMENT ON FUNCTION api.get_all_latest_testnet_metrics() IS
$$Latest value of every metric of schema testnet, one row per metric name (table_name), with the minute of its latest sample. Values are text with every digit.$$;
REVOKE ALL ON FUNCTION api.get_all_latest_testnet_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_all_latest_testnet_metrics() TO web_anon, writer;

CREATE OR REPLACE FUNCTION api.get_all_latest_common_metrics()
RETURNS TABLE("timestamp" timestamptz, table_name text, value text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, metrics
AS $$
    SELECT metrics.floor_to(l.last_time, interval '1 minute'), l.name, l.last_value::text
    FROM metrics.latest_by_name AS l
    WHERE l.schema = 'common'
    ORDER BY l.name
$$;

COMMENT ON FUNCTION api.get_all_latest_common_metrics() IS
$$Latest value of every metric of schema common, one row per metric name (table_name), with the minute of its latest sample. Values are text with every digit.$$;
REVOKE ALL ON FUNCTION api.get_all_latest_common_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_all_latest_common_metrics() TO web_anon, writer;

CREATE OR REPLACE FUNCTION api.get_all_latest_cumsum_metrics()
RETURNS TABLE("timestamp" timestamptz, table_name text, value text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, metrics
AS $$
    SELECT metrics.floor_to(l.last_time, interval '1 minute'), l.name, l.total_sum::text
    FROM metrics.latest_by_name AS l
    WHERE l.schema = 'cumsum'
    ORDER BY l.name
$$;

COMMENT ON FUNCTION api.get_all_latest_cumsum_metrics() IS
$$Running total of every cumulative metric (schema cumsum): the sum of all its samples ever written, one row per metric name (table_name), with the minute of its latest sample.$$;
REVOKE ALL ON FUNCTION api.get_all_latest_cumsum_metrics() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_all_latest_cumsum_metrics() TO web_anon, writer;
