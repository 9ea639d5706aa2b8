-- Latest value per metric name of each network (get_all_latest_*_metrics).
BEGIN;
\ir _setup.sql
-- Timestamp literals below are UTC; the functions do not depend on the session's zone
-- (13_agg_metric_intervals checks that under another zone).
SET LOCAL TimeZone = 'UTC';
SELECT plan(6);

SELECT lives_ok($$ SELECT * FROM tests.write_samples('[
    ["2026-10-08 10:00:00+00", "block_height", {"manifest_tier": "mainnet", "instance": "a"}, 100],
    ["2026-10-08 10:05:10+00", "block_height", {"manifest_tier": "mainnet", "instance": "b"}, 101],
    ["2026-10-08 10:03:00+00", "block_height", {"manifest_tier": "mainnet", "instance": "a"}, 102],
    ["2026-10-08 10:01:00+00", "peers",        {"manifest_tier": "mainnet"}, 8],
    ["2026-10-08 10:10:00+00", "block_height", {"manifest_tier": "testnet"}, 50],
    ["2026-10-08 09:00:00+00", "web_sites",    {}, 12],
    ["2026-10-08 09:00:00+00", "web_requests", {}, 3]]') $$, 'samples of every network');
SELECT lives_ok($$ SELECT * FROM tests.write_samples('[["2026-10-08 09:00:00+00", "block_height", {"manifest_tier": "mainnet", "instance": "c"}, 1]]') $$,
                'an older sample arrives late');

SELECT results_eq($$ SELECT * FROM api.get_all_latest_mainnet_metrics() $$,
    $$ VALUES ('2026-10-08 10:05+00'::timestamptz, 'block_height', '101'), ('2026-10-08 10:01+00', 'peers', '8') $$,
    'mainnet: the newest sample of each metric, whichever series it came from');
SELECT results_eq($$ SELECT * FROM api.get_all_latest_testnet_metrics() $$,
    $$ VALUES ('2026-10-08 10:10+00'::timestamptz, 'block_height', '50') $$, 'testnet');
SELECT results_eq($$ SELECT * FROM api.get_all_latest_common_metrics() $$,
    $$ VALUES ('2026-10-08 09:00+00'::timestamptz, 'web_sites', '12') $$, 'common (cumulative names live in cumsum)');

SELECT tests.authenticate_as('web_anon');
SELECT results_eq($$ SELECT count(*)::int FROM api.get_all_latest_mainnet_metrics() $$, $$ VALUES (2) $$,
                  'web_anon can read the latest metrics');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;
