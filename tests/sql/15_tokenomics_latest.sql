-- Current tokenomics values (get_latest_*, get_all_latest_token_metrics) from latest state.
BEGIN;
\ir _setup.sql
-- Timestamp literals below are UTC; the functions do not depend on the session's zone
-- (13_agg_metric_intervals checks that under another zone).
SET LOCAL TimeZone = 'UTC';
SELECT plan(9);

SELECT is_empty($$ SELECT * FROM api.get_all_latest_token_metrics('mainnet') $$, 'no data: no rows');

SELECT lives_ok($$ SELECT * FROM tests.write_samples('[
    ["2026-10-07 00:50:00+00", "manifest_tokenomics_total_supply",    {"manifest_tier": "mainnet", "supply": "987654321098765432109"}, 1],
    ["2026-10-07 00:20:00+00", "manifest_tokenomics_excluded_supply", {"manifest_tier": "mainnet", "excluded_supply": "123456789012345678901"}, 1],
    ["2026-10-07 00:30:00+00", "locked_tokens",                       {"manifest_tier": "mainnet", "amount": "111111111111111111111"}, 1],
    ["2026-10-07 00:40:00+00", "locked_fees",                         {"manifest_tier": "mainnet", "amount": "100000000000000000001"}, 1],
    ["2026-10-07 00:45:00+00", "total_mfx_burned",                    {"manifest_tier": "mainnet", "amount": "555555555555555555555"}, 1],
    ["2026-10-07 02:05:00+00", "manifest_tokenomics_total_supply",    {"manifest_tier": "mainnet", "supply": "1000000000000000000000"}, 1],
    ["2026-10-07 02:10:30+00", "manifest_tokenomics_excluded_supply", {"manifest_tier": "mainnet", "excluded_supply": "200000000000000000000"}, 1],
    ["2026-10-07 01:00:00+00", "manifest_tokenomics_total_supply",    {"manifest_tier": "testnet", "supply": "7"}, 1]]') $$,
    'tokenomics samples');

SELECT results_eq($$ SELECT * FROM api.get_latest_circulating_supply('mainnet') $$,
    $$ VALUES ('2026-10-07 02:10+00'::timestamptz, '588888888888888888888') $$,
    'latest circulating supply: latest of each term, at the minute of the newest');
SELECT results_eq($$ SELECT * FROM api.get_latest_fdv('mainnet') $$,
    $$ VALUES ('2026-10-07 02:05+00'::timestamptz, NULL::text) $$, 'no price yet: FDV NULL');

-- A price sample, then a late (older) one that must not win.
SELECT lives_ok($$ SELECT * FROM tests.write_samples('[
    ["2026-10-07 03:00:00+00", "talib_mfx_power_conversion", {}, 0.5],
    ["2026-10-07 01:00:00+00", "talib_mfx_power_conversion", {}, 0.25]]') $$, 'prices');

SELECT results_eq($$ SELECT * FROM api.get_latest_fdv('mainnet') $$,
    $$ VALUES ('2026-10-07 03:00+00'::timestamptz, '500000000000000000000.0') $$,
    'latest FDV = latest total x latest price');
SELECT results_eq($$ SELECT * FROM api.get_latest_market_cap('mainnet') UNION ALL SELECT * FROM api.get_latest_burned_supply('mainnet') $$,
    $$ VALUES ('2026-10-07 03:00+00'::timestamptz, '294444444444444444444.0'), ('2026-10-07 00:45+00', '555555555555555555555') $$,
    'latest market cap and burned supply');
SELECT results_eq($$ SELECT * FROM api.get_all_latest_token_metrics('testnet') $$,
    $$ VALUES ('2026-10-07 01:00+00'::timestamptz, 'circulating_supply', '7'),
              ('2026-10-07 03:00+00', 'fdv', '3.5'),
              ('2026-10-07 03:00+00', 'market_cap', '3.5') $$,
    'get_all_latest_token_metrics: circulating_supply, fdv and market_cap of one network');
SELECT is_empty($$ SELECT "timestamp", value FROM api.get_all_latest_token_metrics(NULL) UNION ALL SELECT * FROM api.get_latest_fdv('devnet') $$,
                'NULL or unknown network: no rows');

SELECT * FROM finish();
ROLLBACK;
