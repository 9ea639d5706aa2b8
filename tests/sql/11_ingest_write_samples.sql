-- ingest.write_samples: counts, exactly-once, value labels, routing, series identity.
BEGIN;
\ir _setup.sql
-- Timestamp literals below are UTC; the functions do not depend on the session's zone
-- (13_agg_metric_intervals checks that under another zone).
SET LOCAL TimeZone = 'UTC';
SELECT plan(21);

-- A batch with an in-batch duplicate and a NaN (stored, never rolled up: 73_non_finite).
SELECT results_eq($$ SELECT * FROM tests.write_samples('[
    ["2026-10-05 10:00:10+00", "up", {"job": "node"}, 1],
    ["2026-10-05 10:00:10+00", "up", {"job": "node"}, 1],
    ["2026-10-05 10:00:20+00", "up", {"job": "node"}, "NaN"],
    ["2026-10-05 10:00:30+00", "up", {"job": "node"}, 0],
    ["2026-10-05 10:00:40+00", "up", {"job": "other"}, 1]]') $$,
    $$ VALUES (5::bigint, 4::bigint, 1::bigint) $$,
    'received 5: 4 written (the NaN too), 1 duplicate within the batch');

CREATE TEMP TABLE state_before AS
SELECT (SELECT count(*) FROM metrics.samples) AS samples,
       (SELECT string_agg(r::text, ',' ORDER BY r::text) FROM metrics.rollup_1m AS r) AS r1m,
       (SELECT string_agg(r::text, ',' ORDER BY r::text) FROM metrics.rollup_1h AS r) AS r1h,
       (SELECT string_agg(r::text, ',' ORDER BY r::text) FROM metrics.rollup_1d AS r) AS r1d,
       (SELECT string_agg(r::text, ',' ORDER BY r::text) FROM metrics.latest_by_name AS r) AS latest;

SELECT results_eq($$ SELECT * FROM tests.write_samples('[
    ["2026-10-05 10:00:10+00", "up", {"job": "node"}, 1],
    ["2026-10-05 10:00:30+00", "up", {"job": "node"}, 0],
    ["2026-10-05 10:00:40+00", "up", {"job": "other"}, 1]]') $$,
    $$ VALUES (3::bigint, 0::bigint, 3::bigint) $$,
    'a replayed batch writes nothing: all duplicates');
SELECT is((SELECT (count(*), string_agg(r::text, ',' ORDER BY r::text))::text FROM metrics.rollup_1m AS r),
          (SELECT (1::bigint, r1m)::text FROM state_before),
          'a replay leaves the minute rollups unchanged');
SELECT ok((SELECT s.samples = (SELECT count(*) FROM metrics.samples)
              AND s.r1h = (SELECT string_agg(r::text, ',' ORDER BY r::text) FROM metrics.rollup_1h AS r)
              AND s.r1d = (SELECT string_agg(r::text, ',' ORDER BY r::text) FROM metrics.rollup_1d AS r)
              AND s.latest = (SELECT string_agg(r::text, ',' ORDER BY r::text) FROM metrics.latest_by_name AS r)
           FROM state_before AS s),
          'a replay leaves samples, hour and day rollups and latest state unchanged');
SELECT is((SELECT n FROM metrics.rollup_1m WHERE name = 'up' AND bucket = '2026-10-05 10:00+00'), 3::bigint,
          'the minute rollup counted each sample once');

-- Value labels: supply, then excluded_supply, then amount, then the sample value.
SELECT results_eq($$ SELECT written FROM tests.write_samples('[
    ["2026-10-05 11:00:00+00", "v_supply", {"supply": "123456789012345678901", "excluded_supply": "2", "amount": "3"}, 1],
    ["2026-10-05 11:00:00+00", "v_excluded", {"excluded_supply": "987654321098765432109", "amount": "3"}, 1],
    ["2026-10-05 11:00:00+00", "v_amount", {"amount": "-0.000000000000000000001"}, 1],
    ["2026-10-05 11:00:00+00", "v_plain", {}, 0.1],
    ["2026-10-05 11:00:00+00", "v_big", {}, 1e300],
    ["2026-10-05 11:00:00+00", "v_inf", {}, "Infinity"],
    ["2026-10-05 11:00:00+00", "v_bad", {"supply": "12abc"}, 1],
    ["2026-10-05 11:00:00+00", "v_nan", {"supply": "5"}, "NaN"]]') $$,
    $$ VALUES (7::bigint) $$, 'a supply label that is no number is not stored');
SELECT results_eq($$ SELECT s.name, v.value::text FROM metrics.samples AS v JOIN metrics.series AS s ON s.id = v.series_id
                     WHERE v.time = '2026-10-05 11:00:00+00' ORDER BY s.name $$,
    $$ VALUES ('v_amount', '-0.000000000000000000001'), ('v_big', '1' || repeat('0', 300)),
              ('v_excluded', '987654321098765432109'), ('v_inf', 'Infinity'), ('v_nan', '5'),
              ('v_plain', '0.1'), ('v_supply', '123456789012345678901') $$,
    'effective values: first of supply, excluded_supply, amount, else the sample value; exact');

-- Series identity leaves out the big-number labels: new supply values are new samples.
SELECT results_eq($$ SELECT written FROM tests.write_samples('[
    ["2026-10-05 12:00:00+00", "manifest_tokenomics_total_supply", {"manifest_tier": "mainnet", "supply": "100000000000000000001"}, 1],
    ["2026-10-05 12:00:15+00", "manifest_tokenomics_total_supply", {"manifest_tier": "mainnet", "supply": "100000000000000000002"}, 1],
    ["2026-10-05 12:00:30+00", "manifest_tokenomics_total_supply", {"manifest_tier": "mainnet", "supply": "100000000000000000003"}, 1]]') $$,
    $$ VALUES (3::bigint) $$, 'three supply values written');
SELECT results_eq($$ SELECT schema, labels FROM metrics.series WHERE name = 'manifest_tokenomics_total_supply' $$,
    $$ VALUES ('mainnet', '{"manifest_tier": "mainnet"}'::jsonb) $$,
    'one series for all supply values, without the supply label');
SELECT is((SELECT last_value::text FROM metrics.rollup_1m WHERE name = 'manifest_tokenomics_total_supply'),
          '100000000000000000003', 'the minute keeps the last supply value');

-- Routing (data in metrics.schema_routes).
SELECT lives_ok($$ SELECT * FROM tests.write_samples('[
    ["2026-10-05 13:00:00+00", "block_height", {"manifest_tier": "mainnet"}, 1],
    ["2026-10-05 13:00:00+00", "block_height", {"manifest_tier": "testnet"}, 2],
    ["2026-10-05 13:00:00+00", "block_height", {"manifest_tier": "devnet"}, 3],
    ["2026-10-05 13:00:00+00", "manifest_geo_latitude", {"manifest_tier": "mainnet", "instance": "a"}, 45.5],
    ["2026-10-05 13:00:00+00", "web_requests", {"manifest_tier": "testnet"}, 7],
    ["2026-10-05 13:00:00+00", "talib_mfx_power_conversion", {}, 0.5]]') $$, 'routing batch');
SELECT results_eq($$ SELECT s.name, s.labels ->> 'manifest_tier', s.schema FROM metrics.series AS s
                     WHERE s.id IN (SELECT series_id FROM metrics.samples WHERE time = '2026-10-05 13:00:00+00')
                     ORDER BY 1, 2 $$,
    $$ VALUES ('block_height', 'devnet', 'common'), ('block_height', 'mainnet', 'mainnet'),
              ('block_height', 'testnet', 'testnet'), ('manifest_geo_latitude', 'mainnet', 'geo'),
              ('talib_mfx_power_conversion', NULL, 'common'), ('web_requests', 'testnet', 'cumsum') $$,
    'routing: geo and cumulative names first, then manifest_tier, else common');
UPDATE metrics.schema_routes SET target_schema = 'mainnet' WHERE label_value = 'testnet';
SELECT results_eq($$ SELECT written FROM tests.write_samples('[["2026-10-05 13:01:00+00", "block_height", {"manifest_tier": "testnet"}, 4]]') $$,
                  $$ VALUES (1::bigint) $$, 'a changed rule applies to the next batch');
SELECT is((SELECT s.schema FROM metrics.samples AS v JOIN metrics.series AS s ON s.id = v.series_id
           WHERE v.time = '2026-10-05 13:01:00+00'), 'mainnet', 'routing is data, not code');

-- Edge cases of the call itself.
SELECT results_eq($$ SELECT * FROM ingest.write_samples('{}', '{}', '{}', '{}') $$,
                  $$ VALUES (0::bigint, 0::bigint, 0::bigint) $$, 'an empty batch does nothing');
SELECT results_eq($$ SELECT * FROM ingest.write_samples(NULL, NULL, NULL, NULL) $$,
                  $$ VALUES (0::bigint, 0::bigint, 0::bigint) $$, 'NULL arrays are an empty batch');
SELECT throws_ok($$ SELECT * FROM ingest.write_samples(ARRAY[now()], ARRAY['a', 'b'], ARRAY['{}'::jsonb], ARRAY[1::float8]) $$,
                 '22023', NULL, 'arrays of different lengths are refused');
SELECT results_eq($$ SELECT * FROM ingest.write_samples(ARRAY[NULL, 'infinity', '2026-10-05 14:00+00']::timestamptz[],
                                                       ARRAY['a', 'a', NULL], ARRAY['{}', '{}', '{}']::jsonb[], ARRAY[1, 1, 1]::float8[]) $$,
                  $$ VALUES (3::bigint, 0::bigint, 0::bigint) $$,
                  'samples without a finite time or a name are skipped');

-- Only writer may write.
SELECT tests.authenticate_as('writer', 'ingest');
SELECT results_eq($$ SELECT written FROM ingest.write_samples(ARRAY['2026-10-05 15:00+00'::timestamptz], ARRAY['up'],
                                                             ARRAY['{"job": "w"}'::jsonb], ARRAY[1::float8]) $$,
                  $$ VALUES (1::bigint) $$, 'writer can write samples');
SELECT throws_ok($$ SELECT count(*) FROM metrics.rollup_1m $$, '42501', NULL, 'writer cannot read the rollups directly');
SELECT tests.authenticate_as('web_anon');
SELECT throws_ok($$ SELECT * FROM ingest.write_samples(ARRAY[now()], ARRAY['up'], ARRAY['{}'::jsonb], ARRAY[1::float8]) $$,
                 '42501', NULL, 'web_anon cannot write samples');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;
