-- ROWS 10000: a long range at a fine interval returns up to hundreds of thousands of
-- rows; a declared estimate that large makes the HTTP layer stream the result in chunks
-- instead of building it as one value (api/rpc/plan.py, STREAM_MIN_ROWS).
CREATE OR REPLACE FUNCTION api.get_agg_metric(
    p_metric_name text,
    p_schema      text        DEFAULT 'mainnet',
    p_interval    interval    DEFAULT '1 day',
    p_from        timestamptz DEFAULT now() - interval '7 days',
    p_to          timestamptz DEFAULT now())
RETURNS TABLE("timestamp" timestamptz, value text)
LANGUAGE sql STABLE STRICT SECURITY DEFINER
ROWS 10000
SET search_path = pg_catalog, metrics, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=300, stale-while-revalidate=600'
AS $$
    -- last sample of each bucket, read from the coarsest rollup tier that fits
    SELECT DISTINCT ON (1) metrics.bucket_start(r.bucket, p_interval), r.last_value::text
    FROM metrics.rollup_rows(p_schema, ARRAY[p_metric_name], p_from, p_to,
                             metrics.interval_tier(p_interval)) AS r
    ORDER BY 1 DESC, r.last_time DESC, r.last_series DESC
$$;

COMMENT ON FUNCTION api.get_agg_metric(text, text, interval, timestamptz, timestamptz) IS
$$Value of metric p_metric_name in schema p_schema (mainnet, testnet, common, cumsum, geo) per bucket of p_interval over [p_from, p_to), newest first: the last sample of each bucket, as text with every digit.
Buckets are aligned to the interval (months on calendar months, UTC); only buckets with data. p_interval is a whole number of minutes, days or months (default 1 day); the range defaults to the last 7 days and is resolved to whole minutes. NULL arguments return no rows.$$;
REVOKE ALL ON FUNCTION api.get_agg_metric(text, text, interval, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_agg_metric(text, text, interval, timestamptz, timestamptz) TO web_anon, writer;
