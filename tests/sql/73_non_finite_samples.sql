-- Non-finite samples (docs/INGEST.md): NaN and +-Infinity are stored but never rolled up
-- (sums, counts, last values and running totals stay finite, in the ingest and in
-- metrics.rebuild_rollups alike); a series a stale marker ended after its latest sample
-- leaves the latest reads. (Stale markers themselves, a NaN payload SQL cannot spell,
-- are sent over HTTP in tests/api/test_remote_write.py.)
BEGIN;
\ir _setup.sql
SET LOCAL TimeZone = 'UTC';
SELECT plan(11);

SELECT results_eq($$ SELECT received, written, duplicates FROM tests.write_samples('[
    ["2026-04-01 10:00:10+00", "nf_gauge", {"instance": "a"}, 2],
    ["2026-04-01 10:00:20+00", "nf_gauge", {"instance": "a"}, "NaN"],
    ["2026-04-01 10:00:30+00", "nf_gauge", {"instance": "a"}, "Infinity"],
    ["2026-04-01 10:00:40+00", "nf_gauge", {"instance": "b"}, 3],
    ["2026-04-01 10:00:50+00", "nf_gauge", {"instance": "b"}, "-Infinity"],
    ["2026-04-01 10:01:10+00", "nf_gauge", {"instance": "a"}, "NaN"],
    ["2026-04-01 10:00:10+00", "web_requests", {"instance": "a"}, 5],
    ["2026-04-01 10:00:20+00", "web_requests", {"instance": "a"}, "Infinity"]]') $$,
    $$ VALUES (8::bigint, 8::bigint, 0::bigint) $$,
    'NaN and infinities are written and counted');
SELECT results_eq($$ SELECT v.value::text FROM metrics.samples AS v
                     JOIN metrics.series AS s ON s.id = v.series_id
                     WHERE s.name = 'nf_gauge' ORDER BY v.time $$,
    $$ VALUES ('2'), ('NaN'), ('Infinity'), ('3'), ('-Infinity'), ('NaN') $$,
    'stored as sent');
SELECT results_eq($$ SELECT bucket, sum_value, n, last_value FROM metrics.rollup_1m
                     WHERE name = 'nf_gauge' ORDER BY bucket $$,
    $$ VALUES ('2026-04-01 10:00+00'::timestamptz, 5::numeric, 2::bigint, 3::numeric) $$,
    'the minute rolls up the finite values only; a minute of only NaN has no row');
SELECT results_eq($$ SELECT sum_value, n, last_value FROM metrics.rollup_1h WHERE name = 'nf_gauge' $$,
    $$ VALUES (5::numeric, 2::bigint, 3::numeric) $$, 'so does the hour');
SELECT results_eq($$ SELECT total_sum, n, last_value FROM metrics.latest_by_name
                     WHERE name IN ('nf_gauge', 'web_requests') ORDER BY name $$,
    $$ VALUES (5::numeric, 2::bigint, 3::numeric), (5::numeric, 1::bigint, 5::numeric) $$,
    'latest state and running totals stay finite');
SELECT results_eq($$ SELECT value FROM api.get_all_latest_cumsum_metrics() WHERE table_name = 'web_requests' $$,
    $$ VALUES ('5') $$, 'the running total read leaves the infinity out');

-- rebuild_rollups builds the same from the raw samples
CREATE TEMP TABLE before_1m AS SELECT * FROM metrics.rollup_1m;
CREATE TEMP TABLE before_name AS SELECT * FROM metrics.latest_by_name;
DELETE FROM metrics.rollup_1m; DELETE FROM metrics.rollup_1h; DELETE FROM metrics.rollup_1d;
DELETE FROM metrics.latest_by_name;
SELECT lives_ok($$ SELECT metrics.rebuild_rollups('2026-04-01', '2026-04-02') $$, 'rebuild');
SELECT set_eq('SELECT * FROM metrics.rollup_1m', 'SELECT * FROM before_1m',
              'rebuild_rollups leaves the non-finite values out too');
SELECT set_eq('SELECT * FROM metrics.latest_by_name', 'SELECT * FROM before_name',
              'and the latest state equals what the ingest built');

-- a series ended (as a stale marker does) after its latest sample has gone from the latest
-- values; ended at that very time (a marker meeting a sample) it has not
UPDATE metrics.series SET ended_at = '2026-04-01 10:00:40+00'
WHERE name = 'nf_gauge' AND labels = '{"instance": "b"}';
SELECT results_eq($$ SELECT count(*) FROM api.get_all_latest_common_metrics() WHERE table_name = 'nf_gauge' $$,
    $$ VALUES (1::bigint) $$, 'a marker at the time of the latest sample: the sample wins');
UPDATE metrics.series SET ended_at = '2026-04-01 10:00:45+00'
WHERE name = 'nf_gauge' AND labels = '{"instance": "b"}';
SELECT results_eq($$ SELECT count(*) FROM api.get_all_latest_common_metrics() WHERE table_name = 'nf_gauge' $$,
    $$ VALUES (0::bigint) $$, 'a later marker: the metric has gone from the latest values');

SELECT * FROM finish();
ROLLBACK;
