-- Latest geo coordinates per instance (get_latest_geo_coordinates).
BEGIN;
\ir _setup.sql
-- Timestamp literals below are UTC; the functions do not depend on the session's zone
-- (13_agg_metric_intervals checks that under another zone).
SET LOCAL TimeZone = 'UTC';
SELECT plan(4);

SELECT is_empty($$ SELECT * FROM api.get_latest_geo_coordinates() $$, 'no geo data: no rows');

SELECT lives_ok($$ SELECT * FROM tests.write_samples('[
    ["2026-10-09 10:00:00+00", "manifest_geo_latitude",  {"instance": "a", "manifest_tier": "mainnet"}, 45.5],
    ["2026-10-09 10:00:00+00", "manifest_geo_longitude", {"instance": "a", "manifest_tier": "mainnet"}, -73.5],
    ["2026-10-09 10:00:00+00", "manifest_geo_metadata",  {"instance": "a", "country_name": "Canada", "city": "Montreal"}, 1],
    ["2026-10-09 11:00:00+00", "manifest_geo_latitude",  {"instance": "a", "manifest_tier": "mainnet"}, 45.6],
    ["2026-10-09 11:00:00+00", "manifest_geo_metadata",  {"instance": "a", "country_name": "Canada", "city": "Laval"}, 1],
    ["2026-10-09 10:00:00+00", "manifest_geo_latitude",  {"instance": "b"}, 48.8566],
    ["2026-10-09 10:00:00+00", "manifest_geo_longitude", {"instance": "b"}, 2.3522],
    ["2026-10-09 10:00:00+00", "manifest_geo_metadata",  {"instance": "b", "country_name": "France", "city": "Paris"}, 1],
    ["2026-10-09 10:00:00+00", "manifest_geo_latitude",  {"instance": "c"}, 10]]') $$, 'geo samples');
SELECT lives_ok($$ SELECT * FROM tests.write_samples('[
    ["2026-10-09 09:00:00+00", "manifest_geo_latitude",  {"instance": "a", "manifest_tier": "mainnet"}, 1]]') $$,
    'an older latitude arrives late');

SELECT results_eq($$ SELECT * FROM api.get_latest_geo_coordinates() $$,
    $$ VALUES (45.6::float8, -73.5::float8, 'Canada', 'Laval'), (48.8566, 2.3522, 'France', 'Paris') $$,
    'latest per instance: newest latitude and longitude, labels of the newest metadata; no row without both coordinates');

SELECT * FROM finish();
ROLLBACK;
