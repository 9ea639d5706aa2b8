-- Tokenomics per bucket (DESIGN §5), all from metrics.tokenomics.
-- ROWS 10000: a long range at a fine interval returns up to hundreds of thousands of
-- rows; a declared estimate that large makes the HTTP layer stream the result in chunks
-- instead of building it as one value (api/rpc/plan.py, STREAM_MIN_ROWS).
CREATE OR REPLACE FUNCTION api.get_agg_circulating_supply(
    p_schema   text        DEFAULT 'mainnet',
    p_interval interval    DEFAULT '1 day',
    p_from     timestamptz DEFAULT now() - interval '7 days',
    p_to       timestamptz DEFAULT now())
RETURNS TABLE("timestamp" timestamptz, value text)
LANGUAGE sql STABLE STRICT SECURITY DEFINER
ROWS 10000
SET search_path = pg_catalog, metrics, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=300, stale-while-revalidate=600'
AS $$
    SELECT t.bucket, t.circulating::text
    FROM metrics.tokenomics(p_schema, p_interval, p_from, p_to) AS t
    WHERE t.total IS NOT NULL OR t.excluded IS NOT NULL OR t.locked IS NOT NULL OR t.fees IS NOT NULL
    ORDER BY t.bucket
$$;

COMMENT ON FUNCTION api.get_agg_circulating_supply(text, interval, timestamptz, timestamptz) IS
$$Circulating supply of network p_schema per bucket: total supply - excluded supply - locked tokens - locked fees (each the last sample in the bucket; a missing term counts as 0).
Buckets of p_interval over [p_from, p_to), oldest first, aligned to the interval (months on calendar months, UTC); values are text with every digit. p_interval is a whole number of minutes, days or months (default 1 day); the range defaults to the last 7 days. NULL arguments return no rows.$$;
REVOKE ALL ON FUNCTION api.get_agg_circulating_supply(text, interval, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_agg_circulating_supply(text, interval, timestamptz, timestamptz) TO web_anon, writer;

CREATE OR REPLACE FUNCTION api.get_agg_fdv(
    p_schema   text        DEFAULT 'mainnet',
    p_interval interval    DEFAULT '1 day',
    p_from     timestamptz DEFAULT now() - interval '7 days',
    p_to       timestamptz DEFAULT now())
RETURNS TABLE("timestamp" timestamptz, value text)
LANGUAGE sql STABLE STRICT SECURITY DEFINER
ROWS 10000
SET search_path = pg_catalog, metrics, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=300, stale-while-revalidate=600'
AS $$
    SELECT t.bucket, (t.total * t.price)::text
    FROM metrics.tokenomics(p_schema, p_interval, p_from, p_to) AS t
    WHERE t.total IS NOT NULL
    ORDER BY t.bucket
$$;

COMMENT ON FUNCTION api.get_agg_fdv(text, interval, timestamptz, timestamptz) IS
$$Fully diluted valuation of network p_schema per bucket: total supply x price, where the price (talib_mfx_power_conversion in schema common) is the last one at or before the bucket's end, carried forward across buckets without a price; NULL when no price was ever seen. Only buckets with a total supply.
Buckets of p_interval over [p_from, p_to), oldest first, aligned to the interval (months on calendar months, UTC); values are text with every digit. p_interval is a whole number of minutes, days or months (default 1 day); the range defaults to the last 7 days. NULL arguments return no rows.$$;
REVOKE ALL ON FUNCTION api.get_agg_fdv(text, interval, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_agg_fdv(text, interval, timestamptz, timestamptz) TO web_anon, writer;

CREATE OR REPLACE FUNCTION api.get_agg_market_cap(
    p_schema   text        DEFAULT 'mainnet',
    p_interval interval    DEFAULT '1 day',
    p_from     timestamptz DEFAULT now() - interval '7 days',
    p_to       timestamptz DEFAULT now())
RETURNS TABLE("timestamp" timestamptz, value text)
LANGUAGE sql STABLE STRICT SECURITY DEFINER
ROWS 10000
SET search_path = pg_catalog, metrics, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=300, stale-while-revalidate=600'
AS $$
    SELECT t.bucket, (t.circulating * t.price)::text
    FROM metrics.tokenomics(p_schema, p_interval, p_from, p_to) AS t
    WHERE t.total IS NOT NULL
    ORDER BY t.bucket
$$;

COMMENT ON FUNCTION api.get_agg_market_cap(text, interval, timestamptz, timestamptz) IS
$$Market cap of network p_schema per bucket: circulating supply x price (price carried forward as for get_agg_fdv; NULL when no price was ever seen). Only buckets with a total supply.
Buckets of p_interval over [p_from, p_to), oldest first, aligned to the interval (months on calendar months, UTC); values are text with every digit. p_interval is a whole number of minutes, days or months (default 1 day); the range defaults to the last 7 days. NULL arguments return no rows.$$;
REVOKE ALL ON FUNCTION api.get_agg_market_cap(text, interval, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_agg_market_cap(text, interval, timestamptz, timestamptz) TO web_anon, writer;

CREATE OR REPLACE FUNCTION api.get_agg_burned_supply(
    p_schema   text        DEFAULT 'mainnet',
    p_interval interval    DEFAULT '1 day',
    p_from     timestamptz DEFAULT now() - interval '7 days',
    p_to       timestamptz DEFAULT now())
RETURNS TABLE("timestamp" timestamptz, value text)
LANGUAGE sql STABLE STRICT SECURITY DEFINER
ROWS 10000
SET search_path = pg_catalog, metrics, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=300, stale-while-revalidate=600'
AS $$
    SELECT t.bucket, t.burned::text
    FROM metrics.tokenomics(p_schema, p_interval, p_from, p_to) AS t
    WHERE t.burned IS NOT NULL
    ORDER BY t.bucket
$$;

COMMENT ON FUNCTION api.get_agg_burned_supply(text, interval, timestamptz, timestamptz) IS
$$Burned supply (total_mfx_burned) of network p_schema per bucket: its last sample in the bucket.
Buckets of p_interval over [p_from, p_to), oldest first, aligned to the interval (months on calendar months, UTC); values are text with every digit. p_interval is a whole number of minutes, days or months (default 1 day); the range defaults to the last 7 days. NULL arguments return no rows.$$;
REVOKE ALL ON FUNCTION api.get_agg_burned_supply(text, interval, timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_agg_burned_supply(text, interval, timestamptz, timestamptz) TO web_anon, writer;
