-- api.get_agg_metric: bucketing by any interval (minutes to months), half-open ranges,
-- ranges with ragged edges answered from several tiers, empty ranges, NULLs, bad intervals.
BEGIN;
\ir _setup.sql
-- Timestamp literals below are UTC; the functions do not depend on the session's zone
-- (13_agg_metric_intervals checks that under another zone).
SET LOCAL TimeZone = 'UTC';
SELECT plan(24);

SELECT lives_ok($$ SELECT * FROM tests.write_samples('[
    ["2026-09-30 23:59:30+00", "height", {"manifest_tier": "mainnet"}, 1],
    ["2026-10-01 00:00:00+00", "height", {"manifest_tier": "mainnet"}, 2],
    ["2026-10-01 00:00:40+00", "height", {"manifest_tier": "mainnet"}, 3],
    ["2026-10-01 00:30:00+00", "height", {"manifest_tier": "mainnet"}, 4],
    ["2026-10-01 01:10:00+00", "height", {"manifest_tier": "mainnet"}, 5],
    ["2026-10-02 12:00:00+00", "height", {"manifest_tier": "mainnet"}, 6],
    ["2026-11-03 08:00:00+00", "height", {"manifest_tier": "mainnet"}, 7],
    ["2026-10-01 00:30:00+00", "height", {"manifest_tier": "testnet"}, 1000]]') $$, 'samples');

SELECT results_eq($$ SELECT * FROM api.get_agg_metric('height', 'mainnet', '1 minute', '2026-10-01', '2026-10-01 02:00') $$,
    $$ VALUES ('2026-10-01 01:10+00'::timestamptz, '5'), ('2026-10-01 00:30+00', '4'), ('2026-10-01 00:00+00', '3') $$,
    '1 minute: last sample per minute, newest first');
SELECT results_eq($$ SELECT * FROM api.get_agg_metric('height', 'mainnet', '1 hour', '2026-10-01', '2026-10-03') $$,
    $$ VALUES ('2026-10-02 12:00+00'::timestamptz, '6'), ('2026-10-01 01:00+00', '5'), ('2026-10-01 00:00+00', '4') $$,
    '1 hour');
SELECT results_eq($$ SELECT * FROM api.get_agg_metric('height', 'mainnet', '1 day', '2026-09-01', '2026-12-01') $$,
    $$ VALUES ('2026-11-03 00:00+00'::timestamptz, '7'), ('2026-10-02 00:00+00', '6'),
              ('2026-10-01 00:00+00', '5'), ('2026-09-30 00:00+00', '1') $$,
    '1 day (UTC days)');
SELECT results_eq($$ SELECT * FROM api.get_agg_metric('height', 'mainnet', '1 month', '2026-09-01', '2026-12-01') $$,
    $$ VALUES ('2026-11-01 00:00+00'::timestamptz, '7'), ('2026-10-01 00:00+00', '6'), ('2026-09-01 00:00+00', '1') $$,
    '1 month: calendar months');
SELECT results_eq($$ SELECT * FROM api.get_agg_metric('height', 'mainnet', '3 months', '2026-09-01', '2026-12-01') $$,
    $$ VALUES ('2026-10-01 00:00+00'::timestamptz, '7'), ('2026-07-01 00:00+00', '1') $$,
    '3 months: quarters (buckets aligned to the interval, not to p_from)');
SELECT results_eq($$ SELECT * FROM api.get_agg_metric('height', 'mainnet', '90 minutes', '2026-10-01', '2026-10-01 03:00') $$,
    $$ VALUES ('2026-10-01 00:00+00'::timestamptz, '5') $$,
    '90 minutes: buckets aligned like time_bucket (00:00-01:30)');
SELECT results_eq($$ SELECT * FROM api.get_agg_metric('height', 'testnet', '1 day', '2026-09-01', '2026-12-01') $$,
    $$ VALUES ('2026-10-01 00:00+00'::timestamptz, '1000') $$, 'schemas do not mix');

-- Half-open ranges: p_from in, p_to out.
SELECT results_eq($$ SELECT * FROM api.get_agg_metric('height', 'mainnet', '1 hour', '2026-10-01 00:00', '2026-10-01 01:10') $$,
    $$ VALUES ('2026-10-01 00:00+00'::timestamptz, '4') $$, '[p_from, p_to): a sample at p_to is out');
SELECT results_eq($$ SELECT * FROM api.get_agg_metric('height', 'mainnet', '1 minute', '2026-10-01 01:10', '2026-10-01 01:11') $$,
    $$ VALUES ('2026-10-01 01:10+00'::timestamptz, '5') $$, '[p_from, p_to): a sample at p_from is in');
-- Ragged edges: a day bucket cut by p_to must not be read from the day rollup.
SELECT results_eq($$ SELECT * FROM api.get_agg_metric('height', 'mainnet', '1 day', '2026-09-30 23:59', '2026-10-01 01:00') $$,
    $$ VALUES ('2026-10-01 00:00+00'::timestamptz, '4'), ('2026-09-30 00:00+00', '1') $$,
    'a partial first and last bucket only see the samples inside the range');
SELECT results_eq($$ SELECT * FROM api.get_agg_metric('height', 'mainnet', '1 day', '2026-09-30 23:59', '2026-10-02 12:00:01') $$,
    $$ VALUES ('2026-10-02 00:00+00'::timestamptz, '6'), ('2026-10-01 00:00+00', '5'), ('2026-09-30 00:00+00', '1') $$,
    'minutes, hours and days combined across a range with ragged edges');

-- Empty ranges and NULL arguments: no rows.
SELECT is_empty($$ SELECT * FROM api.get_agg_metric('height', 'mainnet', '1 hour', '2026-10-01', '2026-10-01') $$, 'p_from = p_to: no rows');
SELECT is_empty($$ SELECT * FROM api.get_agg_metric('height', 'mainnet', '1 hour', '2026-10-03', '2026-10-01') $$, 'p_from > p_to: no rows');
SELECT is_empty($$ SELECT * FROM api.get_agg_metric('height', 'mainnet', '1 hour', '2025-01-01', '2025-02-01') $$, 'no data in range: no rows');
SELECT is_empty($$ SELECT * FROM api.get_agg_metric('nope', 'mainnet', '1 hour', '2026-10-01', '2026-10-03') $$, 'unknown metric: no rows');
SELECT is_empty($$ SELECT * FROM api.get_agg_metric(NULL, 'mainnet', '1 hour', '2026-10-01', '2026-10-03')
                   UNION ALL SELECT * FROM api.get_agg_metric('height', NULL, '1 hour', '2026-10-01', '2026-10-03')
                   UNION ALL SELECT * FROM api.get_agg_metric('height', 'mainnet', NULL, '2026-10-01', '2026-10-03')
                   UNION ALL SELECT * FROM api.get_agg_metric('height', 'mainnet', '1 hour', NULL, '2026-10-03')
                   UNION ALL SELECT * FROM api.get_agg_metric('height', 'mainnet', '1 hour', '2026-10-01', NULL) $$,
                'a NULL argument: no rows');

-- Intervals no rollup tier can answer are a client error (22023 -> HTTP 400).
CREATE FUNCTION pg_temp.rejects(p_interval interval) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM * FROM api.get_agg_metric('height', 'mainnet', p_interval, '2026-10-01', '2026-10-03');
    RETURN false;
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN true;
END
$$;
SELECT throws_ok($$ SELECT * FROM api.get_agg_metric('height', 'mainnet', '30 seconds', '2026-10-01', '2026-10-03') $$,
                 '22023', NULL, 'a sub-minute interval is refused with 22023 (HTTP 400)');
SELECT is_empty($$ SELECT i FROM unnest(ARRAY['90 seconds', '0', '-1 hour', '1 month 1 day', '-1 month']::interval[]) AS i
                   WHERE NOT pg_temp.rejects(i) $$,
                'partial minutes, zero, negative intervals and months mixed with days are refused');

-- The session's time zone changes nothing: buckets are UTC (days, months) like time_bucket.
SET LOCAL TimeZone = 'Asia/Kathmandu';
SELECT results_eq($$ SELECT * FROM api.get_agg_metric('height', 'mainnet', '1 day', '2026-09-01 00:00+00', '2026-12-01 00:00+00') $$,
    $$ VALUES ('2026-11-03 00:00+00'::timestamptz, '7'), ('2026-10-02 00:00+00', '6'),
              ('2026-10-01 00:00+00', '5'), ('2026-09-30 00:00+00', '1') $$,
    '1 day buckets are UTC days under any session time zone');
SELECT results_eq($$ SELECT * FROM api.get_agg_metric('height', 'mainnet', '1 month', '2026-09-01 00:00+00', '2026-12-01 00:00+00') $$,
    $$ VALUES ('2026-11-01 00:00+00'::timestamptz, '7'), ('2026-10-01 00:00+00', '6'), ('2026-09-01 00:00+00', '1') $$,
    '1 month buckets are UTC calendar months under any session time zone');
SELECT results_eq($$ SELECT * FROM api.get_agg_metric('height', 'mainnet', '1 day', '2026-09-30 23:59+00', '2026-10-01 01:00+00') $$,
    $$ VALUES ('2026-10-01 00:00+00'::timestamptz, '4'), ('2026-09-30 00:00+00', '1') $$,
    'ragged edges under another time zone');
SET LOCAL TimeZone = 'UTC';

-- PostgREST clients may leave out every argument but the metric name.
SELECT lives_ok($$ SELECT * FROM tests.write_samples(jsonb_build_array(jsonb_build_array(now() - interval '1 hour', 'recent', '{"manifest_tier": "mainnet"}'::jsonb, 42))) $$,
                'a recent sample');
SELECT results_eq($$ SELECT value FROM api.get_agg_metric('recent') $$, $$ VALUES ('42') $$,
                  'defaults: mainnet, 1 day buckets, the last 7 days');

SELECT * FROM finish();
ROLLBACK;
