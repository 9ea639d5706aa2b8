-- Back to before the metrics data model: its API functions (from sql/functions/metrics)
-- go too, as nothing else would drop them; CASCADE takes the functions in metrics/ingest.
DROP FUNCTION IF EXISTS
    api.get_agg_metric(text, text, interval, timestamptz, timestamptz),
    api.get_agg_cumsum_metric(text, text, interval, timestamptz, timestamptz),
    api.get_agg_circulating_supply(text, interval, timestamptz, timestamptz),
    api.get_agg_fdv(text, interval, timestamptz, timestamptz),
    api.get_agg_market_cap(text, interval, timestamptz, timestamptz),
    api.get_agg_burned_supply(text, interval, timestamptz, timestamptz),
    api.get_latest_circulating_supply(text),
    api.get_latest_fdv(text),
    api.get_latest_market_cap(text),
    api.get_latest_burned_supply(text),
    api.get_all_latest_token_metrics(text),
    api.get_all_latest_mainnet_metrics(),
    api.get_all_latest_testnet_metrics(),
    api.get_all_latest_common_metrics(),
    api.get_all_latest_cumsum_metrics(),
    api.get_latest_geo_coordinates(),
    api.get_excluded_addresses(),
    api.add_excluded_address(text),
    api.rm_excluded_address(text);
REVOKE USAGE ON SCHEMA ingest FROM writer;
DROP SCHEMA IF EXISTS ingest CASCADE;
DROP SCHEMA IF EXISTS metrics CASCADE;
