-- Tokenomics per bucket with known answers computed by hand from 21-digit values:
-- circulating supply, FDV, market cap, burned supply; price carried forward.
BEGIN;
\ir _setup.sql
-- Timestamp literals below are UTC; the functions do not depend on the session's zone
-- (13_agg_metric_intervals checks that under another zone).
SET LOCAL TimeZone = 'UTC';
SELECT plan(14);

-- Hour 0: every term; hour 1: only a new total; hour 2: total and excluded.
SELECT lives_ok($$ SELECT * FROM tests.write_samples('[
    ["2026-10-07 00:10:00+00", "manifest_tokenomics_total_supply",    {"manifest_tier": "mainnet", "supply": "900000000000000000000"}, 1],
    ["2026-10-07 00:50:00+00", "manifest_tokenomics_total_supply",    {"manifest_tier": "mainnet", "supply": "987654321098765432109"}, 1],
    ["2026-10-07 00:20:00+00", "manifest_tokenomics_excluded_supply", {"manifest_tier": "mainnet", "excluded_supply": "123456789012345678901"}, 1],
    ["2026-10-07 00:30:00+00", "locked_tokens",                       {"manifest_tier": "mainnet", "amount": "111111111111111111111"}, 1],
    ["2026-10-07 00:40:00+00", "locked_fees",                         {"manifest_tier": "mainnet", "amount": "100000000000000000001"}, 1],
    ["2026-10-07 00:45:00+00", "total_mfx_burned",                    {"manifest_tier": "mainnet", "amount": "555555555555555555555"}, 1],
    ["2026-10-07 01:30:00+00", "manifest_tokenomics_total_supply",    {"manifest_tier": "mainnet", "supply": "999999999999999999999"}, 1],
    ["2026-10-07 02:05:00+00", "manifest_tokenomics_total_supply",    {"manifest_tier": "mainnet", "supply": "1000000000000000000000"}, 1],
    ["2026-10-07 02:10:00+00", "manifest_tokenomics_excluded_supply", {"manifest_tier": "mainnet", "excluded_supply": "200000000000000000000"}, 1],
    ["2026-10-07 02:20:00+00", "total_mfx_burned",                    {"manifest_tier": "mainnet", "amount": "600000000000000000007"}, 1],
    ["2026-10-07 00:50:00+00", "manifest_tokenomics_total_supply",    {"manifest_tier": "testnet", "supply": "5"}, 1]]') $$,
    'tokenomics samples (no price yet)');

-- 987654321098765432109 - 123456789012345678901 - 111111111111111111111 - 100000000000000000001
SELECT results_eq($$ SELECT * FROM api.get_agg_circulating_supply('mainnet', '1 hour', '2026-10-07', '2026-10-07 03:00') $$,
    $$ VALUES ('2026-10-07 00:00+00'::timestamptz, '653086420975308642096'),
              ('2026-10-07 01:00+00', '999999999999999999999'),
              ('2026-10-07 02:00+00', '800000000000000000000') $$,
    'circulating = total - excluded - locked - fees, last sample per bucket, missing terms 0, oldest first');
SELECT results_eq($$ SELECT * FROM api.get_agg_burned_supply('mainnet', '1 hour', '2026-10-07', '2026-10-07 03:00') $$,
    $$ VALUES ('2026-10-07 00:00+00'::timestamptz, '555555555555555555555'), ('2026-10-07 02:00+00', '600000000000000000007') $$,
    'burned supply: only buckets with a burned sample');
SELECT results_eq($$ SELECT * FROM api.get_agg_fdv('mainnet', '1 hour', '2026-10-07', '2026-10-07 03:00') $$,
    $$ VALUES ('2026-10-07 00:00+00'::timestamptz, NULL::text), ('2026-10-07 01:00+00', NULL), ('2026-10-07 02:00+00', NULL) $$,
    'no price ever seen: FDV is NULL, not 0');

-- Prices: 0.25 in hour 0, none in hour 1, 0.5 in hour 2 after the supply samples.
SELECT lives_ok($$ SELECT * FROM tests.write_samples('[
    ["2026-10-07 00:15:00+00", "talib_mfx_power_conversion", {}, 0.25],
    ["2026-10-07 02:30:00+00", "talib_mfx_power_conversion", {}, 0.5]]') $$, 'price samples arrive late');

-- 987654321098765432109 x 0.25; 999999999999999999999 x 0.25 (carried); 10^21 x 0.5
SELECT results_eq($$ SELECT * FROM api.get_agg_fdv('mainnet', '1 hour', '2026-10-07', '2026-10-07 03:00') $$,
    $$ VALUES ('2026-10-07 00:00+00'::timestamptz, '246913580274691358027.25'),
              ('2026-10-07 01:00+00', '249999999999999999999.75'),
              ('2026-10-07 02:00+00', '500000000000000000000.0') $$,
    'FDV = total x price; the hour without a price carries the previous price forward');
SELECT results_eq($$ SELECT * FROM api.get_agg_market_cap('mainnet', '1 hour', '2026-10-07', '2026-10-07 03:00') $$,
    $$ VALUES ('2026-10-07 00:00+00'::timestamptz, '163271605243827160524.00'),
              ('2026-10-07 01:00+00', '249999999999999999999.75'),
              ('2026-10-07 02:00+00', '400000000000000000000.0') $$,
    'market cap = circulating x price, exact to the last digit');
SELECT results_eq($$ SELECT * FROM api.get_agg_fdv('mainnet', '1 hour', '2026-10-07 01:00', '2026-10-07 02:00') $$,
    $$ VALUES ('2026-10-07 01:00+00'::timestamptz, '249999999999999999999.75') $$,
    'a price from before p_from is carried into the range');
SELECT results_eq($$ SELECT * FROM api.get_agg_fdv('testnet', '1 hour', '2026-10-07', '2026-10-07 03:00') $$,
    $$ VALUES ('2026-10-07 00:00+00'::timestamptz, '1.25') $$,
    'the common price applies to every network');

-- One day: the last of each term over the whole day.
-- 10^21 - 200000000000000000000 - 111111111111111111111 - 100000000000000000001 = 588888888888888888888
SELECT results_eq($$ SELECT 'circulating', * FROM api.get_agg_circulating_supply('mainnet', '1 day', '2026-10-07', '2026-10-08')
                     UNION ALL SELECT 'fdv', * FROM api.get_agg_fdv('mainnet', '1 day', '2026-10-07', '2026-10-08')
                     UNION ALL SELECT 'market_cap', * FROM api.get_agg_market_cap('mainnet', '1 day', '2026-10-07', '2026-10-08')
                     UNION ALL SELECT 'burned', * FROM api.get_agg_burned_supply('mainnet', '1 day', '2026-10-07', '2026-10-08') $$,
    $$ VALUES ('circulating', '2026-10-07 00:00+00'::timestamptz, '588888888888888888888'),
              ('fdv', '2026-10-07 00:00+00', '500000000000000000000.0'),
              ('market_cap', '2026-10-07 00:00+00', '294444444444444444444.0'),
              ('burned', '2026-10-07 00:00+00', '600000000000000000007') $$,
    'one day bucket: each term is its last sample of the day');
SELECT results_eq($$ SELECT * FROM api.get_agg_circulating_supply('mainnet', '1 month', '2026-10-01', '2026-11-01') $$,
    $$ VALUES ('2026-10-01 00:00+00'::timestamptz, '588888888888888888888') $$, 'one month bucket');

-- Empty and NULL.
SELECT is_empty($$ SELECT * FROM api.get_agg_fdv('mainnet', '1 hour', '2026-10-08', '2026-10-09') $$,
                'no tokenomics data in range: no rows (even with a price before it)');
SELECT is_empty($$ SELECT * FROM api.get_agg_market_cap('mainnet', NULL, '2026-10-07', '2026-10-08')
                   UNION ALL SELECT * FROM api.get_agg_circulating_supply(NULL, '1 day', '2026-10-07', '2026-10-08') $$,
                'NULL arguments: no rows');
SELECT throws_ok($$ SELECT * FROM api.get_agg_fdv('mainnet', '1 month 2 days', '2026-10-07', '2026-10-08') $$,
                 '22023', NULL, 'bad interval: 22023');

SELECT * FROM finish();
ROLLBACK;
