-- metrics.rebuild_rollups(from, to): the rollup tiers and latest state rebuilt from the
-- raw samples equal what the ingest built batch by batch (late and out-of-order samples,
-- ties between series, several days and schemas), and rows outside the range stay.
BEGIN;
\ir _setup.sql
SET LOCAL TimeZone = 'UTC';
SELECT plan(7);

-- three batches, the later ones with late samples, across two days
SELECT * FROM tests.write_samples($$[
  ["2026-03-01 10:00:10+00", "locked_tokens", {"manifest_tier": "mainnet", "amount": "100"}, 1],
  ["2026-03-01 10:00:20+00", "locked_tokens", {"manifest_tier": "mainnet", "amount": "200"}, 1],
  ["2026-03-01 10:00:20+00", "locked_tokens", {"manifest_tier": "mainnet", "instance": "b", "amount": "7"}, 1],
  ["2026-03-01 23:59:00+00", "web_requests", {"instance": "a"}, 5],
  ["2026-03-02 00:00:30+00", "web_requests", {"instance": "a"}, 6],
  ["2026-03-02 01:30:00+00", "manifest_geo_latitude", {"validator": "v1"}, 50.1]
]$$);
SELECT * FROM tests.write_samples($$[
  ["2026-03-01 10:00:15+00", "locked_tokens", {"manifest_tier": "mainnet", "amount": "150"}, 1],
  ["2026-03-01 11:00:00+00", "locked_tokens", {"manifest_tier": "mainnet", "amount": "300"}, 1],
  ["2026-03-02 00:00:10+00", "web_requests", {"instance": "b"}, 2],
  ["2026-03-02 01:00:00+00", "manifest_geo_latitude", {"validator": "v1"}, 49.9]
]$$);
SELECT * FROM tests.write_samples($$[
  ["2026-03-03 12:00:00+00", "web_requests", {"instance": "a"}, 1]
]$$);

CREATE TEMP TABLE before_1m AS SELECT * FROM metrics.rollup_1m;
CREATE TEMP TABLE before_1h AS SELECT * FROM metrics.rollup_1h;
CREATE TEMP TABLE before_1d AS SELECT * FROM metrics.rollup_1d;
CREATE TEMP TABLE before_name AS SELECT * FROM metrics.latest_by_name;
CREATE TEMP TABLE before_series AS SELECT * FROM metrics.latest_by_series;

-- lose the rollups of 1 and 2 March and the latest state, as a bulk COPY would
DELETE FROM metrics.rollup_1m WHERE bucket < '2026-03-03';
DELETE FROM metrics.rollup_1h WHERE bucket < '2026-03-03';
DELETE FROM metrics.rollup_1d WHERE bucket < '2026-03-03';
DELETE FROM metrics.latest_by_name;
DELETE FROM metrics.latest_by_series;

SELECT results_eq(
    $$ SELECT * FROM metrics.rebuild_rollups('2026-03-01 10:00', '2026-03-02 02:00') $$,
    $$ VALUES (6::bigint, 5::bigint, 4::bigint) $$,
    'rebuilds the minutes, hours and days of the whole days the range touches');
SELECT set_eq('SELECT * FROM metrics.rollup_1m', 'SELECT * FROM before_1m',
              'the minute tier equals what the ingest built');
SELECT set_eq('SELECT * FROM metrics.rollup_1h', 'SELECT * FROM before_1h',
              'the hour tier equals what the ingest built');
SELECT set_eq('SELECT * FROM metrics.rollup_1d', 'SELECT * FROM before_1d',
              'the day tier equals what the ingest built (3 March kept as it was)');
SELECT set_eq('SELECT * FROM metrics.latest_by_name', 'SELECT * FROM before_name',
              'latest_by_name equals what the ingest built');
SELECT set_eq('SELECT * FROM metrics.latest_by_series', 'SELECT * FROM before_series',
              'latest_by_series equals what the ingest built');

SELECT throws_ok($$ SELECT * FROM metrics.rebuild_rollups('2026-03-02', '2026-03-01') $$,
                 '22023', NULL, 'an empty or reversed range is refused');

SELECT * FROM finish();
ROLLBACK;
