-- Current tokenomics values (DESIGN §5), from the latest state: no range scan at all.
CREATE OR REPLACE FUNCTION api.get_latest_circulating_supply(p_schema text DEFAULT 'mainnet')
RETURNS TABLE("timestamp" timestamptz, value text)
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, metrics, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=60, stale-while-revalidate=300'
AS $$
    SELECT metrics.floor_to(t.supply_time, interval '1 minute'), t.circulating::text
    FROM metrics.latest_tokenomics(p_schema) AS t
    WHERE t.supply_time IS NOT NULL
$$;

COMMENT ON FUNCTION api.get_latest_circulating_supply(text) IS
$$Current circulating supply of network p_schema: latest total supply - latest excluded supply - latest locked tokens - latest locked fees (a term never seen counts as 0). "timestamp" is the minute of the newest of those samples. No row when none was ever seen. Values are text with every digit.$$;
REVOKE ALL ON FUNCTION api.get_latest_circulating_supply(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_latest_circulating_supply(text) TO web_anon, writer;

CREATE OR REPLACE FUNCTION api.get_latest_fdv(p_schema text DEFAULT 'mainnet')
RETURNS TABLE("timestamp" timestamptz, value text)
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, metrics, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=60, stale-while-revalidate=300'
AS $$
    SELECT metrics.floor_to(greatest(t.total_time, t.price_time), interval '1 minute'), (t.total * t.price)::text
    FROM metrics.latest_tokenomics(p_schema) AS t
    WHERE t.total_time IS NOT NULL
$$;

COMMENT ON FUNCTION api.get_latest_fdv(text) IS
$$Current fully diluted valuation of network p_schema: latest total supply x latest price (NULL when no price was ever seen). "timestamp" is the minute of the newer of the two samples. No row without a total supply. Values are text with every digit.$$;
REVOKE ALL ON FUNCTION api.get_latest_fdv(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_latest_fdv(text) TO web_anon, writer;

CREATE OR REPLACE FUNCTION api.get_latest_market_cap(p_schema text DEFAULT 'mainnet')
RETURNS TABLE("timestamp" timestamptz, value text)
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, metrics, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=60, stale-while-revalidate=300'
AS $$
    SELECT metrics.floor_to(greatest(t.supply_time, t.price_time), interval '1 minute'), (t.circulating * t.price)::text
    FROM metrics.latest_tokenomics(p_schema) AS t
    WHERE t.total_time IS NOT NULL
$$;

COMMENT ON FUNCTION api.get_latest_market_cap(text) IS
$$Current market cap of network p_schema: current circulating supply x latest price (NULL when no price was ever seen). No row without a total supply. Values are text with every digit.$$;
REVOKE ALL ON FUNCTION api.get_latest_market_cap(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_latest_market_cap(text) TO web_anon, writer;

CREATE OR REPLACE FUNCTION api.get_latest_burned_supply(p_schema text DEFAULT 'mainnet')
RETURNS TABLE("timestamp" timestamptz, value text)
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, metrics, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=60, stale-while-revalidate=300'
AS $$
    SELECT metrics.floor_to(t.burned_time, interval '1 minute'), t.burned::text
    FROM metrics.latest_tokenomics(p_schema) AS t
    WHERE t.burned_time IS NOT NULL
$$;

COMMENT ON FUNCTION api.get_latest_burned_supply(text) IS
$$Current burned supply (total_mfx_burned) of network p_schema. No row when none was ever seen. Values are text with every digit.$$;
REVOKE ALL ON FUNCTION api.get_latest_burned_supply(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_latest_burned_supply(text) TO web_anon, writer;

CREATE OR REPLACE FUNCTION api.get_all_latest_token_metrics(p_schema text DEFAULT 'mainnet')
RETURNS TABLE("timestamp" timestamptz, table_name text, value text)
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, metrics, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=60, stale-while-revalidate=300'
AS $$
    SELECT c."timestamp", 'circulating_supply', c.value FROM api.get_latest_circulating_supply(p_schema) AS c
    UNION ALL
    SELECT f."timestamp", 'fdv', f.value FROM api.get_latest_fdv(p_schema) AS f
    UNION ALL
    SELECT m."timestamp", 'market_cap', m.value FROM api.get_latest_market_cap(p_schema) AS m
$$;

COMMENT ON FUNCTION api.get_all_latest_token_metrics(text) IS
$$Current circulating_supply, fdv and market_cap of network p_schema, one row each (table_name says which), as get_latest_circulating_supply, get_latest_fdv and get_latest_market_cap return them.$$;
REVOKE ALL ON FUNCTION api.get_all_latest_token_metrics(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_all_latest_token_metrics(text) TO web_anon, writer;
