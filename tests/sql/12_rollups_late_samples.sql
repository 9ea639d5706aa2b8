-- Rollups as data arrives: late and out-of-order samples land in their bucket, in every
-- tier, and the tiers agree with each other.
BEGIN;
\ir _setup.sql
-- Timestamp literals below are UTC; the functions do not depend on the session's zone
-- (13_agg_metric_intervals checks that under another zone).
SET LOCAL TimeZone = 'UTC';
SELECT plan(10);

SELECT lives_ok($$ SELECT * FROM tests.write_samples('[
    ["2026-10-06 10:00:30+00", "gauge", {"manifest_tier": "mainnet"}, 10],
    ["2026-10-06 10:59:30+00", "gauge", {"manifest_tier": "mainnet"}, 20],
    ["2026-10-06 11:00:30+00", "gauge", {"manifest_tier": "mainnet"}, 30]]') $$, 'first batch');

-- Out of order in the same minute: an earlier sample does not replace the minute's last.
SELECT lives_ok($$ SELECT * FROM tests.write_samples('[["2026-10-06 10:00:10+00", "gauge", {"manifest_tier": "mainnet"}, 5]]') $$,
                'an earlier sample of the same minute arrives late');
SELECT results_eq($$ SELECT last_time, last_value::text, sum_value::text, n FROM metrics.rollup_1m
                     WHERE schema = 'mainnet' AND name = 'gauge' AND bucket = '2026-10-06 10:00+00' $$,
    $$ VALUES ('2026-10-06 10:00:30+00'::timestamptz, '10', '15', 2::bigint) $$,
    'the minute keeps its last value and adds the late sample to sum and count');

-- A late sample a day back lands in its own minute, hour and day.
SELECT lives_ok($$ SELECT * FROM tests.write_samples('[["2026-10-05 23:59:59+00", "gauge", {"manifest_tier": "mainnet"}, 99]]') $$,
                'a sample of yesterday arrives late');
SELECT results_eq($$ SELECT 'm', bucket, last_value::text FROM metrics.rollup_1m WHERE name = 'gauge' AND bucket < '2026-10-06'
                     UNION ALL SELECT 'h', bucket, last_value::text FROM metrics.rollup_1h WHERE name = 'gauge' AND bucket < '2026-10-06'
                     UNION ALL SELECT 'd', bucket, last_value::text FROM metrics.rollup_1d WHERE name = 'gauge' AND bucket < '2026-10-06' $$,
    $$ VALUES ('m', '2026-10-05 23:59+00'::timestamptz, '99'), ('h', '2026-10-05 23:00+00', '99'), ('d', '2026-10-05 00:00+00', '99') $$,
    'the late sample is in its minute, hour and day bucket');
SELECT results_eq($$ SELECT last_time, last_value::text, total_sum::text, n FROM metrics.latest_by_name
                     WHERE schema = 'mainnet' AND name = 'gauge' $$,
    $$ VALUES ('2026-10-06 11:00:30+00'::timestamptz, '30', '164', 5::bigint) $$,
    'the latest value stays the newest sample; the running total includes the late ones');

-- A later sample in an existing hour becomes that hour's (and day's) last value.
SELECT lives_ok($$ SELECT * FROM tests.write_samples('[["2026-10-06 10:59:45+00", "gauge", {"manifest_tier": "mainnet"}, 25]]') $$,
                'a later sample of an old hour');
SELECT results_eq($$ SELECT bucket, last_value::text, sum_value::text, n FROM metrics.rollup_1h
                     WHERE name = 'gauge' AND bucket >= '2026-10-06' ORDER BY bucket $$,
    $$ VALUES ('2026-10-06 10:00+00'::timestamptz, '25', '60', 4::bigint), ('2026-10-06 11:00+00', '30', '30', 1::bigint) $$,
    'hour rollups: last value by time, sums and counts');

-- The coarser tiers are exactly the minutes rolled up.
-- Both ways (set_eq): no tier row missing, none extra.
SELECT set_eq($$
    SELECT metrics.floor_to(bucket, '1 hour') AS bucket, sum(sum_value) AS s, sum(n)::bigint AS n,
           (array_agg(last_value ORDER BY last_time DESC, last_series DESC))[1] AS v
    FROM metrics.rollup_1m WHERE name = 'gauge' GROUP BY 1 $$,
    $$ SELECT bucket, sum_value, n, last_value FROM metrics.rollup_1h WHERE name = 'gauge' $$,
    'hour rollups equal the minute rollups rolled up');
SELECT set_eq($$
    SELECT metrics.floor_to(bucket, '1 day') AS bucket, sum(sum_value) AS s, sum(n)::bigint AS n,
           (array_agg(last_value ORDER BY last_time DESC, last_series DESC))[1] AS v
    FROM metrics.rollup_1m WHERE name = 'gauge' GROUP BY 1 $$,
    $$ SELECT bucket, sum_value, n, last_value FROM metrics.rollup_1d WHERE name = 'gauge' $$,
    'day rollups equal the minute rollups rolled up');

SELECT * FROM finish();
ROLLBACK;
