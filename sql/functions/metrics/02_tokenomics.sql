-- Tokenomics terms per bucket, shared by the get_agg_* tokenomics functions (DESIGN §5).
-- Each term is its last sample in the bucket (the state at the bucket's end); the price
-- (talib_mfx_power_conversion, schema common) is carried forward: the last price at or
-- before the bucket's end, including prices before p_from; NULL if none was ever seen.
-- Only buckets where some term of p_schema has data are returned. circulating is the
-- one definition of the circulating supply: total - excluded - locked - fees, a missing
-- term counting as 0.
-- (DROP first: the result gained the column circulating.)
DROP FUNCTION IF EXISTS metrics.tokenomics(text, interval, timestamptz, timestamptz);
CREATE FUNCTION metrics.tokenomics(
    p_schema text, p_interval interval, p_from timestamptz, p_to timestamptz)
RETURNS TABLE(bucket timestamptz, total numeric, excluded numeric, locked numeric,
              fees numeric, circulating numeric, burned numeric, price numeric)
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, metrics, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_tier text := metrics.interval_tier(p_interval);   -- validates p_interval
    v_price_before numeric;
BEGIN
    IF p_from >= p_to THEN
        RETURN;
    END IF;
    v_price_before := metrics.last_value_before('common', 'talib_mfx_power_conversion', p_from);

    RETURN QUERY
    WITH terms AS (
        SELECT DISTINCT ON (1, r.name)
               metrics.bucket_start(r.bucket, p_interval) AS b, r.name, r.last_value
        FROM metrics.rollup_rows(p_schema,
                 ARRAY['manifest_tokenomics_total_supply', 'manifest_tokenomics_excluded_supply',
                       'locked_tokens', 'locked_fees', 'total_mfx_burned'],
                 p_from, p_to, v_tier) AS r
        ORDER BY 1, r.name, r.last_time DESC, r.last_series DESC
    ), by_bucket AS (
        SELECT t.b,
               max(t.last_value) FILTER (WHERE t.name = 'manifest_tokenomics_total_supply') AS total,
               max(t.last_value) FILTER (WHERE t.name = 'manifest_tokenomics_excluded_supply') AS excluded,
               max(t.last_value) FILTER (WHERE t.name = 'locked_tokens') AS locked,
               max(t.last_value) FILTER (WHERE t.name = 'locked_fees') AS fees,
               max(t.last_value) FILTER (WHERE t.name = 'total_mfx_burned') AS burned
        FROM terms AS t
        GROUP BY t.b
    ), prices AS (
        SELECT DISTINCT ON (1) metrics.bucket_start(r.bucket, p_interval) AS b, r.last_value AS price
        FROM metrics.rollup_rows('common', ARRAY['talib_mfx_power_conversion'],
                                 p_from, p_to, v_tier) AS r
        ORDER BY 1, r.last_time DESC, r.last_series DESC
    ), merged AS (
        SELECT coalesce(t.b, p.b) AS b, t.total, t.excluded, t.locked, t.fees, t.burned,
               t.b IS NOT NULL AS has_terms, p.price,
               -- buckets since the last one with a price share its group number
               count(p.price) OVER (ORDER BY coalesce(t.b, p.b)) AS price_group
        FROM by_bucket AS t
        FULL JOIN prices AS p ON p.b = t.b
    ), carried AS (
        SELECT m.b, m.total, m.excluded, m.locked, m.fees, m.burned, m.has_terms,
               CASE WHEN m.price_group = 0 THEN v_price_before
                    ELSE first_value(m.price) OVER (PARTITION BY m.price_group ORDER BY m.b)
               END AS price
        FROM merged AS m
    )
    -- filter only after carrying: price-only buckets still feed later buckets
    SELECT c.b, c.total, c.excluded, c.locked, c.fees,
           coalesce(c.total, 0) - coalesce(c.excluded, 0) - coalesce(c.locked, 0)
               - coalesce(c.fees, 0),
           c.burned, c.price
    FROM carried AS c
    WHERE c.has_terms
    ORDER BY c.b;
END
$$;

REVOKE ALL ON FUNCTION metrics.tokenomics(text, interval, timestamptz, timestamptz) FROM PUBLIC;
