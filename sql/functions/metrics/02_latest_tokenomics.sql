-- The current tokenomics state of network p_schema from metrics.latest_by_name: each
-- term's latest sample and the latest price. One row; NULLs for what was never seen.
-- circulating is the one definition of the circulating supply (as metrics.tokenomics):
-- total - excluded - locked - fees, a term never seen counting as 0.
-- (DROP first: the result gained the column circulating.)
DROP FUNCTION IF EXISTS metrics.latest_tokenomics(text);
CREATE FUNCTION metrics.latest_tokenomics(p_schema text)
RETURNS TABLE(total numeric, excluded numeric, locked numeric, fees numeric,
              circulating numeric,
              supply_time timestamptz, total_time timestamptz,
              burned numeric, burned_time timestamptz,
              price numeric, price_time timestamptz)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, metrics, pg_temp
AS $$
    SELECT t.total, t.excluded, t.locked, t.fees,
           coalesce(t.total, 0) - coalesce(t.excluded, 0) - coalesce(t.locked, 0)
               - coalesce(t.fees, 0),
           t.supply_time, t.total_time, t.burned, t.burned_time, t.price, t.price_time
    FROM (
    SELECT max(l.last_value) FILTER (WHERE l.name = 'manifest_tokenomics_total_supply') AS total,
           max(l.last_value) FILTER (WHERE l.name = 'manifest_tokenomics_excluded_supply') AS excluded,
           max(l.last_value) FILTER (WHERE l.name = 'locked_tokens') AS locked,
           max(l.last_value) FILTER (WHERE l.name = 'locked_fees') AS fees,
           max(l.last_time) FILTER (WHERE l.name IN ('manifest_tokenomics_total_supply',
                                                     'manifest_tokenomics_excluded_supply',
                                                     'locked_tokens', 'locked_fees')) AS supply_time,
           max(l.last_time) FILTER (WHERE l.name = 'manifest_tokenomics_total_supply') AS total_time,
           max(l.last_value) FILTER (WHERE l.name = 'total_mfx_burned') AS burned,
           max(l.last_time) FILTER (WHERE l.name = 'total_mfx_burned') AS burned_time,
           (SELECT p.last_value FROM metrics.latest_by_name AS p
            WHERE p.schema = 'common' AND p.name = 'talib_mfx_power_conversion') AS price,
           (SELECT p.last_time FROM metrics.latest_by_name AS p
            WHERE p.schema = 'common' AND p.name = 'talib_mfx_power_conversion') AS price_time
    FROM metrics.latest_by_name AS l
    WHERE l.schema = p_schema
      AND l.name IN ('manifest_tokenomics_total_supply', 'manifest_tokenomics_excluded_supply',
                     'locked_tokens', 'locked_fees', 'total_mfx_burned')
    ) AS t
$$;

REVOKE ALL ON FUNCTION metrics.latest_tokenomics(text) FROM PUBLIC;
