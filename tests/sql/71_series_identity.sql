-- Series identity and the write path's rules, each with one home (00_routing.sql):
-- the decimal rule of value labels (metrics.label_number) on the cases the decoder's
-- regex is checked against too (label_number_cases.csv, read by
-- tests/api/test_series_identity.py), routing (metrics.route_schemas and
-- metrics.route_schema agree), and "last sample wins" (metrics.last_sample).
BEGIN;
\ir _setup.sql
SET LOCAL TimeZone = 'UTC';
SELECT plan(8);

CREATE TEMP TABLE label_number_cases (text text NOT NULL, number text);
\copy label_number_cases FROM 'label_number_cases.csv' WITH (FORMAT csv, HEADER true)

SELECT cmp_ok((SELECT count(*)::integer FROM label_number_cases), '>=', 30,
              'the shared decimal cases are loaded');
SELECT is_empty($$
    SELECT c.text, c.number, metrics.label_number(c.text)
    FROM label_number_cases AS c
    WHERE metrics.label_number(c.text) IS DISTINCT FROM c.number::numeric
$$, 'metrics.label_number gives each shared case its number, or NULL for a non-number');

SELECT is(metrics.route_schemas(
              ARRAY['manifest_geo_latitude', 'web_requests', 'x', 'x', 'x'],
              ARRAY['{}', '{}', '{"manifest_tier": "mainnet"}', '{"manifest_tier": "testnet"}',
                    '{"manifest_tier": "other"}']::jsonb[]),
          ARRAY['geo', 'cumsum', 'mainnet', 'testnet', 'common'],
          'route_schemas routes each series by the first matching rule, in position');
SELECT is_empty($$
    SELECT n, l FROM (VALUES ('manifest_geo_latitude', '{}'::jsonb), ('web_requests', '{}'),
                             ('x', '{"manifest_tier": "mainnet"}'), ('x', '{}')) AS c(n, l)
    WHERE metrics.route_schema(n, l) <> (metrics.route_schemas(ARRAY[n], ARRAY[l]))[1]
$$, 'route_schema is route_schemas of one series');

SELECT results_eq($$
    SELECT * FROM metrics.last_sample('2026-01-01 00:01', 1, 10, '2026-01-01 00:00', 9, 20)
$$, $$ VALUES ('2026-01-01 00:01'::timestamptz, 1::bigint, 10::numeric) $$,
'a later sample is the last');
SELECT results_eq($$
    SELECT * FROM metrics.last_sample('2026-01-01 00:00', 2, 10, '2026-01-01 00:00', 1, 20)
$$, $$ VALUES ('2026-01-01 00:00'::timestamptz, 2::bigint, 10::numeric) $$,
'at the same time, the greater series is the last');
SELECT results_eq($$
    SELECT * FROM metrics.last_sample('2026-01-01 00:00', 1, 10, '2026-01-01 00:01', 1, 20)
$$, $$ VALUES ('2026-01-01 00:01'::timestamptz, 1::bigint, 20::numeric) $$,
'an earlier sample leaves the last alone');
SELECT results_eq($$
    SELECT * FROM metrics.last_sample('2026-01-01 00:00', 1, 10, '2026-01-01 00:00', 1, 20)
$$, $$ VALUES ('2026-01-01 00:00'::timestamptz, 1::bigint, 20::numeric) $$,
'on a tie the stored last stays');

SELECT * FROM finish();
ROLLBACK;
