-- Exemplars (docs/INGEST.md, "Exemplars"): stored once per (series, time) on the series
-- their samples resolve to, replays idempotent, conflicts kept apart, the ingest window
-- and the new-series cap as for samples, read back by api.get_exemplars, partitioned and
-- retained like samples; privileges per role.
BEGIN;
\ir _setup.sql
SET LOCAL TimeZone = 'UTC';
SELECT plan(32);

-- Exemplars given as a JSON array of [time, name, series labels, value, exemplar labels],
-- each exemplar its own series position (the database finds equal series equal).
CREATE FUNCTION tests.write_exemplars(p_rows jsonb, p_now timestamptz DEFAULT NULL,
                                      p_max_new integer DEFAULT NULL)
RETURNS TABLE(received bigint, written bigint, duplicates bigint, conflicts bigint,
              too_old bigint, too_new bigint, refused bigint, new_series integer)
LANGUAGE sql AS $$
    SELECT w.* FROM (
        SELECT array_agg(r ->> 1 ORDER BY o) AS ns, array_agg((r -> 2)::text ORDER BY o) AS ls,
               array_agg(o::integer ORDER BY o) AS ps,
               array_agg((r ->> 0)::timestamptz ORDER BY o) AS ts,
               array_agg((r ->> 3)::float8 ORDER BY o) AS vs,
               array_agg((r -> 4)::text ORDER BY o) AS es
        FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS e(r, o)) AS a,
    ingest.write_exemplars(NULL, NULL, a.ns, a.ls, a.ps, a.ts, a.vs, a.es, p_now, interval '10 minutes',
                           p_max_new) AS w
$$;
GRANT EXECUTE ON FUNCTION tests.write_exemplars(jsonb, timestamptz, integer) TO PUBLIC;

-- shape and privileges: the table is reached through the functions only
SELECT has_table('metrics', 'exemplars', 'metrics.exemplars exists');
SELECT col_is_pk('metrics', 'exemplars', ARRAY['series_id', 'time', 'schema'],
                 'keyed by series, then time (the read''s order)');
SELECT is(tableowner::text, 'metrics_owner', 'owned by metrics_owner')
FROM pg_tables WHERE schemaname = 'metrics' AND tablename = 'exemplars';
SELECT ok(NOT has_table_privilege('writer', 'metrics.exemplars', 'SELECT, INSERT, UPDATE, DELETE')
          AND NOT has_table_privilege('web_anon', 'metrics.exemplars', 'SELECT'),
          'no role reads or writes the table directly');
SELECT ok(has_function_privilege('writer', 'ingest.write_exemplars(text, bigint[], text[], text[], integer[], timestamptz[], double precision[], text[], timestamptz, interval, integer)', 'EXECUTE')
          AND NOT has_function_privilege('web_anon', 'ingest.write_exemplars(text, bigint[], text[], text[], integer[], timestamptz[], double precision[], text[], timestamptz, interval, integer)', 'EXECUTE'),
          'writer writes exemplars, web_anon cannot');
SELECT ok(has_function_privilege('web_anon', 'api.get_exemplars(text, text, timestamptz, timestamptz, text)', 'EXECUTE')
          AND has_function_privilege('writer', 'api.get_exemplars(text, text, timestamptz, timestamptz, text)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'api.get_exemplars(text, text, timestamptz, timestamptz, text)', 'EXECUTE'),
          'get_exemplars: web_anon and writer, not PUBLIC');
SELECT results_eq($$ SELECT p.provolatile::text, p.prosecdef,
                            'search_path=pg_catalog, metrics, pg_temp' = ANY (p.proconfig),
                            EXISTS (SELECT FROM unnest(p.proconfig) AS c WHERE c LIKE 'metrics_rpc.cache_control=%')
                     FROM pg_proc AS p WHERE p.oid = 'api.get_exemplars'::regproc $$,
    $$ VALUES ('s', true, true, true) $$,
    'get_exemplars: STABLE, SECURITY DEFINER, pinned search_path, a cache policy');

-- an exemplar lands on the series its samples landed on
SELECT lives_ok($$ SELECT * FROM tests.write_samples('[
    ["2026-10-15 10:00:00+00", "ex_requests", {"manifest_tier": "mainnet", "job": "api"}, 7]]') $$,
    'a sample');
SELECT results_eq($$ SELECT received, written, duplicates, conflicts, new_series FROM tests.write_exemplars('[
    ["2026-10-15 10:00:00+00", "ex_requests", {"manifest_tier": "mainnet", "job": "api"}, 7, {"trace_id": "t1", "span_id": "s1"}],
    ["2026-10-15 10:00:05+00", "ex_requests", {"manifest_tier": "mainnet", "job": "api"}, "NaN", {"trace_id": "t2"}]]') $$,
    $$ VALUES (2::bigint, 2::bigint, 0::bigint, 0::bigint, 0) $$,
    'two exemplars written, no series registered');
SELECT results_eq($$ SELECT e.series_id, e.schema, e.value::text, e.labels FROM metrics.exemplars AS e
                     ORDER BY e.time $$,
    $$ SELECT s.id, 'mainnet', v.value, v.labels::jsonb
       FROM metrics.series AS s,
            (VALUES (1, '7', '{"trace_id": "t1", "span_id": "s1"}'), (2, 'NaN', '{"trace_id": "t2"}')) AS v(o, value, labels)
       WHERE s.name = 'ex_requests' ORDER BY v.o $$,
    'stored on the samples'' series and schema, value (NaN too) and labels as sent');

-- replays, conflicts
SELECT results_eq($$ SELECT written, duplicates, conflicts FROM tests.write_exemplars('[
    ["2026-10-15 10:00:00+00", "ex_requests", {"manifest_tier": "mainnet", "job": "api"}, 7, {"trace_id": "t1", "span_id": "s1"}],
    ["2026-10-15 10:00:05+00", "ex_requests", {"manifest_tier": "mainnet", "job": "api"}, "NaN", {"trace_id": "t2"}]]') $$,
    $$ VALUES (0::bigint, 2::bigint, 0::bigint) $$,
    'an exact replay (NaN included) is a duplicate');
SELECT results_eq($$ SELECT written, duplicates, conflicts FROM tests.write_exemplars('[
    ["2026-10-15 10:00:00+00", "ex_requests", {"manifest_tier": "mainnet", "job": "api"}, 8, {"trace_id": "t1", "span_id": "s1"}],
    ["2026-10-15 10:00:05+00", "ex_requests", {"manifest_tier": "mainnet", "job": "api"}, "NaN", {"trace_id": "other"}]]') $$,
    $$ VALUES (0::bigint, 0::bigint, 2::bigint) $$,
    'another value or other labels at a stored (series, time): conflicts');
SELECT results_eq($$ SELECT written, duplicates, conflicts FROM tests.write_exemplars('[
    ["2026-10-15 10:01:00+00", "ex_requests", {"manifest_tier": "mainnet", "job": "api"}, 1, {"trace_id": "a"}],
    ["2026-10-15 10:01:00+00", "ex_requests", {"manifest_tier": "mainnet", "job": "api"}, 1, {"trace_id": "a"}],
    ["2026-10-15 10:01:00+00", "ex_requests", {"manifest_tier": "mainnet", "job": "api"}, 2, {"trace_id": "b"}]]') $$,
    $$ VALUES (1::bigint, 1::bigint, 1::bigint) $$,
    'within one call: the first is written, a repeat is a duplicate, another value conflicts');
SELECT results_eq($$ SELECT value::text, labels ->> 'trace_id' FROM metrics.exemplars ORDER BY time $$,
    $$ VALUES ('7', 't1'), ('NaN', 't2'), ('1', 'a') $$,
    'the stored exemplars stay');

-- ids the samples' write returned are used as that write uses them: only under the
-- current routing token and while the id names a series of that name
SELECT results_eq($$ SELECT written FROM ingest.write_exemplars(
        metrics.routes_token(), ARRAY[(SELECT id FROM metrics.series WHERE name = 'ex_requests')],
        ARRAY['ex_requests'], ARRAY['{"wrong": "labels, the id decides"}'], ARRAY[1],
        ARRAY['2026-10-15 10:03:00+00'::timestamptz], ARRAY[1::float8], ARRAY['{}']) $$,
    $$ VALUES (1::bigint) $$, 'a known id under the current routing token');
SELECT results_eq($$ SELECT count(*) FROM metrics.exemplars AS e JOIN metrics.series AS s ON s.id = e.series_id
                     WHERE e.time = '2026-10-15 10:03:00+00' AND s.name = 'ex_requests' $$,
    $$ VALUES (1::bigint) $$, 'lands on that id''s series');
SELECT results_eq($$ SELECT written, new_series FROM ingest.write_exemplars(
        metrics.routes_token(), ARRAY[(SELECT id FROM metrics.series WHERE name = 'ex_requests')],
        ARRAY['ex_other'], ARRAY['{}'], ARRAY[1],
        ARRAY['2026-10-15 10:03:00+00'::timestamptz], ARRAY[1::float8], ARRAY['{}']) $$,
    $$ VALUES (1::bigint, 1) $$, 'an id of another name is not trusted: resolved by the labels');

-- exemplars without samples, the window, the new-series cap
SELECT results_eq($$ SELECT written, new_series FROM tests.write_exemplars('[
    ["2026-10-15 10:00:00+00", "ex_orphan", {}, 42, {"trace_id": "o1"}]]') $$,
    $$ VALUES (1::bigint, 1) $$,
    'an exemplar of a series without samples registers its series (routed: common)');
SELECT ok(EXISTS (SELECT FROM metrics.series WHERE name = 'ex_orphan' AND schema = 'common'),
          'that series is routed as a sample''s would be');
SELECT results_eq($$ SELECT written, refused, new_series FROM tests.write_exemplars('[
    ["2026-10-15 10:00:00+00", "ex_capped", {}, 1, {}]]', p_max_new => 0) $$,
    $$ VALUES (0::bigint, 1::bigint, 0) $$,
    'over the new-series cap: refused, nothing registered');
SELECT results_eq($$ SELECT written, too_old, too_new FROM tests.write_exemplars('[
    ["2026-10-15 10:00:00+00", "ex_requests", {"manifest_tier": "mainnet", "job": "api"}, 1, {}],
    ["2025-09-01 10:00:00+00", "ex_requests", {"manifest_tier": "mainnet", "job": "api"}, 1, {}],
    ["2026-11-23 12:30:00+00", "ex_requests", {"manifest_tier": "mainnet", "job": "api"}, 1, {}]]',
    p_now => '2026-11-23 12:00+00') $$,
    $$ VALUES (0::bigint, 1::bigint, 1::bigint) $$,
    'the ingest window of samples: older than the retention, later than now + max future');
SELECT ok(to_regclass('metrics.exemplars_network_p2025_09') IS NULL,
          'no partition for a refused exemplar');

-- read side
SELECT tests.authenticate_as('web_anon');
SELECT results_eq($$ SELECT "timestamp", value, series_labels, labels, trace_id
                     FROM api.get_exemplars('ex_requests', 'mainnet', '2026-10-15 10:00+00', '2026-10-15 10:01+00') $$,
    $$ VALUES ('2026-10-15 10:00:00+00'::timestamptz, '7', '{"job": "api", "manifest_tier": "mainnet"}'::jsonb,
               '{"trace_id": "t1", "span_id": "s1"}'::jsonb, 't1'),
              ('2026-10-15 10:00:05+00', 'NaN', '{"job": "api", "manifest_tier": "mainnet"}', '{"trace_id": "t2"}', 't2') $$,
    'web_anon reads the exemplars of a half-open range, oldest first, with the trace_id');
SELECT is((SELECT count(*) FROM api.get_exemplars('ex_requests', 'mainnet', '2026-10-15', '2026-10-16', '{"job": "other"}')),
          0::bigint, 'p_labels keeps only the series containing those labels');
SELECT is((SELECT count(*) FROM api.get_exemplars('ex_requests', 'mainnet', '2026-10-15', '2026-10-16', '{"job": "api"}')),
          4::bigint, 'and all of them when they match');
SELECT is((SELECT trace_id FROM api.get_exemplars('ex_orphan', 'common', '2026-10-15', '2026-10-16')),
          'o1', 'an exemplar without samples is read too');
SELECT tests.clear_authentication();

-- the response cache hears of new exemplars
SELECT lives_ok($$ CREATE TEMP TABLE v0 AS SELECT version FROM metrics_rpc.data_versions WHERE domain = 'mainnet' $$,
                'data version before');
SELECT results_eq($$ SELECT written FROM tests.write_exemplars('[
    ["2026-10-15 10:02:00+00", "ex_requests", {"manifest_tier": "mainnet", "job": "api"}, 3, {"trace_id": "t3"}]]') $$,
    $$ VALUES (1::bigint) $$, 'one more exemplar');
SELECT ok((SELECT version FROM metrics_rpc.data_versions WHERE domain = 'mainnet') > (SELECT version FROM v0),
          'writing exemplars bumps their schema''s data version');

-- partitions and retention, as for samples
SELECT results_eq($$ SELECT written FROM tests.write_exemplars('[
    ["2025-09-15 10:00:00+00", "ex_requests", {"manifest_tier": "mainnet", "job": "api"}, 1, {}],
    ["2025-09-15 10:00:00+00", "web_requests", {}, 1, {}]]') $$,
    $$ VALUES (2::bigint) $$, 'old exemplars (no window given)');
SELECT results_eq($$ SELECT object FROM ingest.run_maintenance('2026-11-23 12:00+00')
                     WHERE action = 'dropped' AND object LIKE 'metrics.exemplars%' $$,
    $$ VALUES ('metrics.exemplars_network_p2025_09') $$,
    'run_maintenance drops network exemplar months past the retention, never cumsum''s');
SELECT ok(to_regclass('metrics.exemplars_cumsum_p2025_09') IS NOT NULL
          AND to_regclass('metrics.exemplars_network_p2027_01') IS NOT NULL
          AND EXISTS (SELECT FROM metrics.series WHERE name = 'ex_orphan'),
          'cumsum exemplars stay, months are created ahead, a series with exemplars only is kept');

SELECT * FROM finish();
ROLLBACK;
