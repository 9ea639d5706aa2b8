-- Partition upkeep and retention: partitions ahead of time, one year for networks,
-- forever for cumsum.
BEGIN;
\ir _setup.sql
-- Timestamp literals below are UTC; the functions do not depend on the session's zone
-- (13_agg_metric_intervals checks that under another zone).
SET LOCAL TimeZone = 'UTC';
SELECT plan(12);

SELECT lives_ok($$ SELECT * FROM tests.write_samples('[
    ["2025-09-15 10:00:00+00", "block_height", {"manifest_tier": "mainnet"}, 1],
    ["2025-09-15 10:00:00+00", "old_gauge",    {"manifest_tier": "mainnet"}, 9],
    ["2025-09-15 10:00:00+00", "web_requests", {}, 5],
    ["2026-10-15 10:00:00+00", "block_height", {"manifest_tier": "mainnet"}, 2],
    ["2026-10-15 10:00:00+00", "web_requests", {}, 6]]') $$, 'samples a year apart');
SELECT ok(to_regclass('metrics.samples_network_p2025_09') IS NOT NULL
          AND to_regclass('metrics.rollup_1m_cumsum_p2025_09') IS NOT NULL,
          'write_samples creates the partitions a batch needs');

SELECT results_eq($$ SELECT action, object FROM ingest.run_maintenance('2026-11-23 12:00+00') WHERE action = 'dropped' $$,
    $$ VALUES ('dropped', 'metrics.rollup_1m_network_p2025_09'), ('dropped', 'metrics.samples_network_p2025_09') $$,
    'network partitions older than a year are dropped');
SELECT ok(to_regclass('metrics.samples_network_p2027_01') IS NOT NULL
          AND to_regclass('metrics.samples_cumsum_p2027_01') IS NOT NULL
          AND to_regclass('metrics.rollup_1m_network_p2027_01') IS NOT NULL,
          'partitions are created two months ahead');
SELECT ok(to_regclass('metrics.samples_cumsum_p2025_09') IS NOT NULL
          AND to_regclass('metrics.rollup_1m_cumsum_p2025_09') IS NOT NULL,
          'cumsum partitions are kept forever');
SELECT ok(to_regclass('metrics.samples_network_p2026_10') IS NOT NULL, 'recent network partitions stay');

SELECT results_eq($$ SELECT * FROM api.get_agg_metric('block_height', 'mainnet', '1 day', '2025-01-01', '2027-01-01') $$,
    $$ VALUES ('2026-10-15 00:00+00'::timestamptz, '2') $$,
    'old network data is gone from every tier');
SELECT is_empty($$ SELECT * FROM api.get_all_latest_mainnet_metrics() WHERE table_name = 'old_gauge' $$,
                'the latest state of a metric silent for over a year goes too');
SELECT results_eq($$ SELECT * FROM api.get_agg_cumsum_metric('web_requests', 'cumsum', '1 month', '2025-01-01', '2027-01-01') $$,
    $$ VALUES ('2025-09-01 00:00+00'::timestamptz, '5'), ('2026-10-01 00:00+00', '11') $$,
    'cumsum keeps all its history');
SELECT is_empty($$ SELECT * FROM ingest.run_maintenance('2026-11-23 12:00+00') $$,
                'a second run has nothing to do');

SELECT tests.authenticate_as('writer', 'cron');
SELECT throws_ok($$ SELECT * FROM ingest.run_maintenance(now(), '-10000 years', 0) $$, '42501', NULL,
                 'writer cannot run maintenance (it is the owner''s job)');
SELECT tests.authenticate_as('web_anon');
SELECT throws_ok($$ SELECT * FROM ingest.run_maintenance() $$, '42501', NULL, 'web_anon cannot');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;
