-- The current tokenomics state of network p_schema from metrics.latest_by_name: each
-- term's latest sample and the latest price. One row; NULLs for what was never seen.
CREATE OR REPLACE FUNCTION metrics.latest_tokenomics(p_schema text)
RETURNS TABLE(total numeric, excluded numeric, locked numeric, fees numeric,
              supply_time timestamptz, total_time timestamptz,
              burned numeric, burned_time timestamptz,
              price numeric, price_time timestamptz)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, metrics
AS $$
    SELECT max(l.last_value) FILTER (WHERE l.name = 'manifest_tokenomics_total_supply'),
           max(l.last_value) FILTER (WHERE l.name = 'manifest_tokenomics_excluded_supply'),
           max(l.last_value) FILTER (WHERE l.name = 'locked_tokens'),
           max(l.last_value) FILTER (WHERE l.name = 'locked_fees'),
           max(l.last_time) FILTER (WHERE l.name IN ('manifest_tokenomics_total_supply',
                                                     'manifest_tokenomics_excluded_supply',
                                                     'locked_tokens', 'locked_fees')),
           max(l.last_time) FILTER (WHERE l.name = 'manifest_tokenomics_total_supply'),
           max(l.last_value) FILTER (WHERE l.name = 'total_mfx_burned'),
           max(l.last_time) FILTER (WHERE l.name = 'total_mfx_burned'),
           (SELECT p.last_value FROM metrics.latest_by_name AS p
            WHERE p.schema = 'common' AND p.name = 'talib_mfx_power_conversion'),
           (SELECT p.last_time FROM metrics.latest_by_name AS p
            WHERE p.schema = 'common' AND p.name = 'talib_mfx_power_conversion')
    FROM metrics.latest_by_name AS l
    WHERE l.schema = p_schema
      AND l.name IN ('manifest_tokenomics_total_supply', 'manifest_tokenomics_excluded_supply',
                     'locked_tokens', 'locked_fees', 'total_mfx_burned')
$$;

REVOKE ALL ON FUNCTION metrics.latest_tokenomics(text) FROM PUBLIC;
