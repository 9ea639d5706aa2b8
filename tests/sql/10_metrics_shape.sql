-- Shape of the metrics data model: schemas, tables, API function signatures and
-- attributes, and what web_anon and writer may and may not touch.
BEGIN;
\ir _setup.sql
-- Timestamp literals below are UTC; the functions do not depend on the session's zone
-- (13_agg_metric_intervals checks that under another zone).
SET LOCAL TimeZone = 'UTC';
SELECT plan(30);

SELECT has_schema('metrics');
SELECT has_schema('ingest');
SELECT ok(count(*) = 14, 'the metrics tables exist')
FROM pg_tables WHERE schemaname = 'metrics' AND tablename IN (
    'schema_routes', 'series', 'samples', 'samples_cumsum', 'samples_network',
    'rollup_1m', 'rollup_1m_cumsum', 'rollup_1m_network', 'rollup_1h', 'rollup_1d',
    'latest_by_name', 'latest_by_series', 'excluded_addresses', 'excluded_addresses_audit');

-- Raw samples: partitioned by retention class, then by month.
SELECT is((SELECT partstrat::text FROM pg_partitioned_table WHERE partrelid = 'metrics.samples'::regclass),
          'l', 'samples are list-partitioned by schema (retention class)');
SELECT is((SELECT partstrat::text FROM pg_partitioned_table WHERE partrelid = 'metrics.samples_network'::regclass),
          'r', 'network samples are range-partitioned by time');
SELECT is((SELECT partstrat::text FROM pg_partitioned_table WHERE partrelid = 'metrics.samples_cumsum'::regclass),
          'r', 'cumsum samples are range-partitioned by time');
SELECT col_is_pk('metrics', 'samples', ARRAY['time', 'series_id', 'schema'],
                 'a sample is unique per (time, series, schema); the series fixes the name');
SELECT col_is_pk('metrics', 'rollup_1m', ARRAY['schema', 'name', 'bucket'], 'one rollup row per (schema, name, minute)');
SELECT col_type_is('metrics', 'samples', 'value', 'numeric', 'sample values are exact numerics');
SELECT col_type_is('metrics', 'rollup_1m', 'last_value', 'numeric', 'rollup values are exact numerics');

SELECT results_eq(
    $$ SELECT target_schema, count(*)::int FROM metrics.schema_routes GROUP BY 1 ORDER BY 1 $$,
    $$ VALUES ('common', 1), ('cumsum', 6), ('geo', 3), ('mainnet', 1), ('testnet', 1) $$,
    'default routing rules: 3 geo names, 6 cumulative names, 2 tiers and the default');

-- The read functions of DESIGN §5 with their exact arguments and result columns.
CREATE TEMP TABLE read_fns (fn regprocedure, result text);
INSERT INTO read_fns VALUES
    ('api.get_agg_metric(text,text,interval,timestamptz,timestamptz)', 'TABLE("timestamp" timestamp with time zone, value text)'),
    ('api.get_agg_cumsum_metric(text,text,interval,timestamptz,timestamptz)', 'TABLE("timestamp" timestamp with time zone, value text)'),
    ('api.get_agg_circulating_supply(text,interval,timestamptz,timestamptz)', 'TABLE("timestamp" timestamp with time zone, value text)'),
    ('api.get_agg_fdv(text,interval,timestamptz,timestamptz)', 'TABLE("timestamp" timestamp with time zone, value text)'),
    ('api.get_agg_market_cap(text,interval,timestamptz,timestamptz)', 'TABLE("timestamp" timestamp with time zone, value text)'),
    ('api.get_agg_burned_supply(text,interval,timestamptz,timestamptz)', 'TABLE("timestamp" timestamp with time zone, value text)'),
    ('api.get_latest_circulating_supply(text)', 'TABLE("timestamp" timestamp with time zone, value text)'),
    ('api.get_latest_fdv(text)', 'TABLE("timestamp" timestamp with time zone, value text)'),
    ('api.get_latest_market_cap(text)', 'TABLE("timestamp" timestamp with time zone, value text)'),
    ('api.get_latest_burned_supply(text)', 'TABLE("timestamp" timestamp with time zone, value text)'),
    ('api.get_all_latest_token_metrics(text)', 'TABLE("timestamp" timestamp with time zone, table_name text, value text)'),
    ('api.get_all_latest_mainnet_metrics()', 'TABLE("timestamp" timestamp with time zone, table_name text, value text)'),
    ('api.get_all_latest_testnet_metrics()', 'TABLE("timestamp" timestamp with time zone, table_name text, value text)'),
    ('api.get_all_latest_common_metrics()', 'TABLE("timestamp" timestamp with time zone, table_name text, value text)'),
    ('api.get_all_latest_cumsum_metrics()', 'TABLE("timestamp" timestamp with time zone, table_name text, value text)'),
    ('api.get_latest_geo_coordinates()', 'TABLE(latitude double precision, longitude double precision, country_name text, city text)'),
    ('api.get_excluded_addresses()', 'TABLE(id integer, value text)');
GRANT SELECT ON read_fns TO PUBLIC;

SELECT is_empty($$ SELECT fn FROM read_fns WHERE pg_get_function_result(fn) <> result $$,
                'read functions return the DESIGN §5 columns');
SELECT is_empty($$ SELECT fn FROM read_fns AS r JOIN pg_proc AS p ON p.oid = r.fn
                   WHERE p.provolatile <> 's' OR NOT p.prosecdef $$,
                'read functions are STABLE and SECURITY DEFINER');
SELECT is_empty($$ SELECT fn FROM read_fns AS r JOIN pg_proc AS p ON p.oid = r.fn
                   WHERE NOT coalesce(p.proconfig, '{}') @> ARRAY['search_path=pg_catalog, metrics, pg_temp'] $$,
                'read functions pin search_path');
SELECT is_empty($$ SELECT fn FROM read_fns WHERE obj_description(fn, 'pg_proc') IS NULL $$,
                'read functions are documented (COMMENT, the OpenAPI description)');
SELECT is_empty($$ SELECT fn FROM read_fns
                   WHERE NOT has_function_privilege('web_anon', fn, 'EXECUTE')
                      OR NOT has_function_privilege('writer', fn, 'EXECUTE') $$,
                'web_anon and writer can call every read function');
SELECT is_empty($$ SELECT p.oid::regprocedure FROM pg_proc AS p
                   WHERE p.pronamespace IN ('api'::regnamespace, 'ingest'::regnamespace, 'metrics'::regnamespace)
                     AND EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a
                                 WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE') $$,
                'no api, ingest or metrics function is executable by PUBLIC');
SELECT is(pg_get_function_arguments('api.get_agg_fdv(text,interval,timestamptz,timestamptz)'::regprocedure),
          $$p_schema text DEFAULT 'mainnet'::text, p_interval interval DEFAULT '1 day'::interval, p_from timestamp with time zone DEFAULT (now() - '7 days'::interval), p_to timestamp with time zone DEFAULT now()$$,
          'tokenomics arguments have defaults, so PostgREST clients may omit them');

-- Writer-only changes and the ingest path.
SELECT is(pg_get_function_result('ingest.write_samples(timestamptz[],text[],jsonb[],double precision[])'::regprocedure),
          'TABLE(received bigint, written bigint, duplicates bigint)', 'ingest.write_samples contract');
SELECT ok((SELECT prosecdef AND provolatile = 'v' FROM pg_proc
           WHERE oid = 'ingest.write_samples(timestamptz[],text[],jsonb[],double precision[])'::regprocedure),
          'write_samples is VOLATILE SECURITY DEFINER');
SELECT function_privs_are('ingest', 'write_samples', ARRAY['timestamptz[]', 'text[]', 'jsonb[]', 'double precision[]'],
                          'writer', ARRAY['EXECUTE']);
SELECT function_privs_are('ingest', 'write_samples', ARRAY['timestamptz[]', 'text[]', 'jsonb[]', 'double precision[]'],
                          'web_anon', ARRAY[]::text[]);
SELECT ok((SELECT bool_and(provolatile = 'v' AND prosecdef) FROM pg_proc
           WHERE oid IN ('api.add_excluded_address(text)'::regprocedure, 'api.rm_excluded_address(text)'::regprocedure)),
          'add/rm_excluded_address are VOLATILE SECURITY DEFINER');
SELECT ok(has_function_privilege('writer', 'api.add_excluded_address(text)', 'EXECUTE')
          AND has_function_privilege('writer', 'api.rm_excluded_address(text)', 'EXECUTE'),
          'writer can add and remove excluded addresses');
SELECT ok(NOT has_function_privilege('web_anon', 'api.add_excluded_address(text)', 'EXECUTE')
          AND NOT has_function_privilege('web_anon', 'api.rm_excluded_address(text)', 'EXECUTE'),
          'web_anon cannot add or remove excluded addresses');

-- No raw table is reachable by the API roles.
SELECT schema_privs_are('metrics', 'web_anon', ARRAY[]::text[]);
SELECT schema_privs_are('metrics', 'writer', ARRAY[]::text[]);
SELECT is_empty($$ SELECT c.relname, r.rolname FROM pg_class AS c
                   JOIN pg_namespace AS n ON n.oid = c.relnamespace
                   CROSS JOIN (VALUES ('web_anon'), ('writer')) AS r(rolname)
                   WHERE n.nspname = 'metrics' AND c.relkind IN ('r', 'p')
                     AND has_table_privilege(r.rolname, c.oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE') $$,
                'web_anon and writer hold no privilege on any metrics table');

-- And trying it as those roles fails with insufficient_privilege.
SELECT tests.authenticate_as('web_anon');
SELECT throws_ok($$ SELECT count(*) FROM metrics.samples $$, '42501', NULL,
                 'web_anon cannot read raw samples');
SELECT throws_ok($$ SELECT api.add_excluded_address('manifest1abc') $$, '42501', NULL,
                 'web_anon cannot add an excluded address');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;
