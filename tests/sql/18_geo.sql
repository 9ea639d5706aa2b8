-- Latest geo coordinates per instance (get_latest_geo_coordinates).
BEGIN;
\ir _setup.sql
-- Timestamp literals below are UTC; the functions do not depend on the session's zone
-- (13_agg_metric_intervals checks that under another zone).
SET LOCAL TimeZone = 'UTC';
SELECT plan(4);

-- Write samples given as a JSON array of [time, name, labels, value] through the ingest path.
CREATE FUNCTION pg_temp.write(p_rows jsonb)
RETURNS TABLE(received bigint, written bigint, duplicates bigint) LANGUAGE sql AS $$
    SELECT w.* FROM (
        SELECT array_agg((r ->> 0)::timestamptz ORDER BY o) AS ts, array_agg(r ->> 1 ORDER BY o) AS ns,
               array_agg(nullif(r -> 2, 'null') ORDER BY o) AS ls, array_agg((r ->> 3)::float8 ORDER BY o) AS vs
        FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS e(r, o)) AS a,
    ingest.write_samples(a.ts, a.ns, a.ls, a.vs) AS w
$$;

SELECT is_empty($$ SELECT * FROM api.get_latest_geo_coordinates() $$, 'no geo data: no rows');

SELECT lives_ok($$ SELECT * FROM pg_temp.write('[
    ["2026-10-09 10:00:00+00", "manifest_geo_latitude",  {"instance": "a", "manifest_tier": "mainnet"}, 45.5],
    ["2026-10-09 10:00:00+00", "manifest_geo_longitude", {"instance": "a", "manifest_tier": "mainnet"}, -73.5],
    ["2026-10-09 10:00:00+00", "manifest_geo_metadata",  {"instance": "a", "country_name": "Canada", "city": "Montreal"}, 1],
    ["2026-10-09 11:00:00+00", "manifest_geo_latitude",  {"instance": "a", "manifest_tier": "mainnet"}, 45.6],
    ["2026-10-09 11:00:00+00", "manifest_geo_metadata",  {"instance": "a", "country_name": "Canada", "city": "Laval"}, 1],
    ["2026-10-09 10:00:00+00", "manifest_geo_latitude",  {"instance": "b"}, 48.8566],
    ["2026-10-09 10:00:00+00", "manifest_geo_longitude", {"instance": "b"}, 2.3522],
    ["2026-10-09 10:00:00+00", "manifest_geo_metadata",  {"instance": "b", "country_name": "France", "city": "Paris"}, 1],
    ["2026-10-09 10:00:00+00", "manifest_geo_latitude",  {"instance": "c"}, 10]]') $$, 'geo samples');
SELECT lives_ok($$ SELECT * FROM pg_temp.write('[
    ["2026-10-09 09:00:00+00", "manifest_geo_latitude",  {"instance": "a", "manifest_tier": "mainnet"}, 1]]') $$,
    'an older latitude arrives late');

SELECT results_eq($$ SELECT * FROM api.get_latest_geo_coordinates() $$,
    $$ VALUES (45.6::float8, -73.5::float8, 'Canada', 'Laval'), (48.8566, 2.3522, 'France', 'Paris') $$,
    'latest per instance: newest latitude and longitude, labels of the newest metadata; no row without both coordinates');

SELECT * FROM finish();
ROLLBACK;
