-- ingest.write_series_samples: the ingest window, the new-series cap, conflicting
-- duplicates; ingest.run_maintenance's retention guard and series pruning.
BEGIN;
\ir _setup.sql
SET LOCAL TimeZone = 'UTC';
SELECT plan(14);

CREATE FUNCTION pg_temp.w(p_names text[], p_labels text[], p_series int[], p_times timestamptz[],
                          p_values float8[], p_max_new integer DEFAULT NULL)
RETURNS TABLE(written bigint, duplicates bigint, conflicts bigint, too_old bigint, too_new bigint,
              refused bigint, new_series integer, refused_series integer)
LANGUAGE sql AS $$
    SELECT w.written, w.duplicates, w.conflicts, w.too_old, w.too_new, w.refused, w.new_series,
           w.refused_series
    FROM ingest.write_series_samples(NULL, NULL, p_names, p_labels, p_series, p_times, p_values,
                                     array_fill(NULL::text, ARRAY[cardinality(p_times)]),
                                     '2026-06-15 12:00+00', '10 minutes', p_max_new) AS w
$$;

-- the window, with the clock at 2026-06-15 12:00 and 10 minutes ahead allowed
SELECT results_eq($$ SELECT * FROM pg_temp.w(
    ARRAY['w_gauge', 'web_requests'], ARRAY['{}', '{}'], ARRAY[1, 1, 1, 2, 2],
    ARRAY['2026-06-15 12:05+00', '2026-06-15 12:11+00', '2024-02-01 00:00+00',
          '2024-03-01 00:00+00', '2031-12-01 00:00+00']::timestamptz[],
    ARRAY[1, 2, 3, 4, 5]::float8[]) $$,
    $$ VALUES (2::bigint, 0::bigint, 0::bigint, 1::bigint, 2::bigint, 0::bigint, 2, 0) $$,
    'too new (any schema) and too old (not cumsum) are refused; old cumsum is kept');
SELECT ok(to_regclass('metrics.samples_network_p2031_12') IS NULL
          AND to_regclass('metrics.samples_cumsum_p2031_12') IS NULL
          AND to_regclass('metrics.rollup_1m_network_p2031_12') IS NULL,
          'no partition for a sample too far ahead');
SELECT ok(to_regclass('metrics.samples_network_p2024_02') IS NULL,
          'no network partition for a sample older than the retention');
SELECT ok(to_regclass('metrics.samples_cumsum_p2024_03') IS NOT NULL,
          'cumsum is kept forever, so an old cumsum sample gets its partition');

-- conflicting duplicates
SELECT results_eq($$ SELECT written, duplicates, conflicts FROM pg_temp.w(
    ARRAY['w_gauge'], ARRAY['{}'], ARRAY[1], ARRAY['2026-06-15 12:05+00']::timestamptz[], ARRAY[1]::float8[]) $$,
    $$ VALUES (0::bigint, 1::bigint, 0::bigint) $$, 'an exact replay is a duplicate');
SELECT results_eq($$ SELECT written, duplicates, conflicts FROM pg_temp.w(
    ARRAY['w_gauge'], ARRAY['{}'], ARRAY[1], ARRAY['2026-06-15 12:05+00']::timestamptz[], ARRAY[7]::float8[]) $$,
    $$ VALUES (0::bigint, 0::bigint, 1::bigint) $$, 'another value at a stored time is a conflict');
SELECT is((SELECT s.value FROM metrics.samples AS s JOIN metrics.series AS r ON r.id = s.series_id
           WHERE r.name = 'w_gauge'), 1::numeric, 'the stored value is kept');
SELECT results_eq($$ SELECT written, duplicates, conflicts FROM pg_temp.w(
    ARRAY['w_gauge'], ARRAY['{}'], ARRAY[1, 1, 1],
    ARRAY['2026-06-15 12:06+00', '2026-06-15 12:06+00', '2026-06-15 12:06+00']::timestamptz[],
    ARRAY[1, 1, 2]::float8[]) $$,
    $$ VALUES (1::bigint, 1::bigint, 1::bigint) $$,
    'within a batch: the first is stored, an equal one is a duplicate, another value a conflict');

-- the new-series cap
SELECT results_eq($$ SELECT written, refused, new_series, refused_series FROM pg_temp.w(
    ARRAY['w_capped', 'w_capped', 'w_gauge'], ARRAY['{"i": "1"}', '{"i": "2"}', '{}'], ARRAY[1, 2, 2, 3],
    ARRAY['2026-06-15 12:00+00', '2026-06-15 12:00+00', '2026-06-15 12:01+00', '2026-06-15 12:07+00']::timestamptz[],
    ARRAY[1, 2, 3, 4]::float8[], 1) $$,
    $$ VALUES (2::bigint, 2::bigint, 1, 1) $$,
    'over the cap a new series is refused with its samples; known series are not new');
SELECT is((SELECT count(*) FROM metrics.series WHERE name = 'w_capped'), 1::bigint,
          'only the series within the cap is registered');

-- run_maintenance: a retention guard, series pruning
SELECT throws_ok($$ SELECT * FROM ingest.run_maintenance('2026-06-15 12:00+00', '1 day') $$,
                 '22023', NULL, 'a retention under a month is refused');
SELECT throws_ok($$ SELECT * FROM ingest.run_maintenance('2026-06-15 12:00+00', '-10000 years') $$,
                 '22023', NULL, 'a negative retention is refused');
SELECT lives_ok($$ SELECT * FROM ingest.run_maintenance('2028-01-15 12:00+00') $$,
                'maintenance two years on');
SELECT results_eq($$ SELECT name FROM metrics.series WHERE name IN ('w_gauge', 'w_capped', 'web_requests') $$,
                  $$ VALUES ('web_requests') $$,
                  'series without samples left are pruned, cumsum series stay');

SELECT * FROM finish();
ROLLBACK;
