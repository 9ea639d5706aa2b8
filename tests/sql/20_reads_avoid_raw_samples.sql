-- Acceptance: every read function answers from rollups and latest state. The check counts
-- the scans of raw-sample partitions this transaction made (pg_stat_xact_user_tables)
-- before and after calling each function; a direct read shows the counter works.
BEGIN;
\ir _setup.sql
-- Timestamp literals below are UTC; the functions do not depend on the session's zone
-- (13_agg_metric_intervals checks that under another zone).
SET LOCAL TimeZone = 'UTC';
SELECT plan(5);

CREATE FUNCTION pg_temp.scans(p_parent regclass) RETURNS bigint LANGUAGE sql AS $$
    SELECT coalesce(sum(s.seq_scan + coalesce(s.idx_scan, 0)), 0)::bigint
    FROM pg_stat_xact_user_tables AS s
    WHERE s.relid IN (SELECT relid FROM pg_partition_tree(p_parent))
$$;

-- Raw samples for every read function, across a month boundary and several days.
SELECT lives_ok($$ SELECT w.* FROM (SELECT jsonb_agg(jsonb_build_array(t, n, l, v)) AS r
          FROM generate_series(timestamptz '2026-09-28', '2026-10-03', '7 hours 13 minutes') AS t,
          (VALUES ('manifest_tokenomics_total_supply', '{"manifest_tier": "mainnet", "supply": "900000000000000000000"}'::jsonb, 1),
                  ('manifest_tokenomics_excluded_supply', '{"manifest_tier": "mainnet", "excluded_supply": "100000000000000000000"}', 1),
                  ('locked_tokens', '{"manifest_tier": "mainnet", "amount": "1"}', 1),
                  ('locked_fees', '{"manifest_tier": "mainnet", "amount": "2"}', 1),
                  ('total_mfx_burned', '{"manifest_tier": "mainnet", "amount": "3"}', 1),
                  ('talib_mfx_power_conversion', '{}', 0.5),
                  ('block_height', '{"manifest_tier": "testnet"}', 7),
                  ('web_requests', '{}', 2),
                  ('manifest_geo_latitude', '{"instance": "a"}', 1.5),
                  ('manifest_geo_longitude', '{"instance": "a"}', 2.5),
                  ('manifest_geo_metadata', '{"instance": "a", "country_name": "X", "city": "Y"}', 1)) AS m(n, l, v)) AS x,
    tests.write_samples(x.r) AS w $$,
    'samples written');

CREATE TEMP TABLE calls (fn text, q text);
INSERT INTO calls VALUES
    ('get_agg_metric', $$ SELECT * FROM api.get_agg_metric('block_height', 'testnet', '1 hour', '2026-09-28 05:17', '2026-10-02 13:05') $$),
    ('get_agg_metric month', $$ SELECT * FROM api.get_agg_metric('block_height', 'testnet', '1 month', '2026-01-01', '2027-01-01') $$),
    ('get_agg_cumsum_metric', $$ SELECT * FROM api.get_agg_cumsum_metric('web_requests', 'cumsum', '1 day', '2026-09-30 05:17', '2026-10-04') $$),
    ('get_agg_circulating_supply', $$ SELECT * FROM api.get_agg_circulating_supply('mainnet', '1 day', '2026-09-28', '2026-10-04') $$),
    ('get_agg_fdv', $$ SELECT * FROM api.get_agg_fdv('mainnet', '15 minutes', '2026-09-29', '2026-10-04') $$),
    ('get_agg_market_cap', $$ SELECT * FROM api.get_agg_market_cap('mainnet', '1 hour', '2026-09-29 12:00', '2026-10-04') $$),
    ('get_agg_burned_supply', $$ SELECT * FROM api.get_agg_burned_supply('mainnet', '1 day', '2026-09-28', '2026-10-04') $$),
    ('get_latest_circulating_supply', $$ SELECT * FROM api.get_latest_circulating_supply('mainnet') $$),
    ('get_latest_fdv', $$ SELECT * FROM api.get_latest_fdv('mainnet') $$),
    ('get_latest_market_cap', $$ SELECT * FROM api.get_latest_market_cap('mainnet') $$),
    ('get_latest_burned_supply', $$ SELECT * FROM api.get_latest_burned_supply('mainnet') $$),
    ('get_all_latest_token_metrics', $$ SELECT * FROM api.get_all_latest_token_metrics('mainnet') $$),
    ('get_all_latest_mainnet_metrics', $$ SELECT * FROM api.get_all_latest_mainnet_metrics() $$),
    ('get_all_latest_testnet_metrics', $$ SELECT * FROM api.get_all_latest_testnet_metrics() $$),
    ('get_all_latest_common_metrics', $$ SELECT * FROM api.get_all_latest_common_metrics() $$),
    ('get_all_latest_cumsum_metrics', $$ SELECT * FROM api.get_all_latest_cumsum_metrics() $$),
    ('get_latest_geo_coordinates', $$ SELECT * FROM api.get_latest_geo_coordinates() $$),
    ('get_excluded_addresses', $$ SELECT * FROM api.get_excluded_addresses() $$);

-- Per call: rows returned and raw-sample scans it caused.
CREATE FUNCTION pg_temp.run_calls() RETURNS TABLE(fn text, n bigint, sample_scans bigint, rollup_scans bigint)
LANGUAGE plpgsql AS $$
DECLARE
    c record;
    s0 bigint; r0 bigint;
BEGIN
    FOR c IN SELECT * FROM calls LOOP
        s0 := pg_temp.scans('metrics.samples');
        r0 := pg_temp.scans('metrics.rollup_1m');
        EXECUTE format('SELECT count(*) FROM (%s) AS q', c.q) INTO n;
        fn := c.fn;
        sample_scans := pg_temp.scans('metrics.samples') - s0;
        rollup_scans := pg_temp.scans('metrics.rollup_1m') - r0;
        RETURN NEXT;
    END LOOP;
END
$$;
CREATE TEMP TABLE results AS SELECT * FROM pg_temp.run_calls();

SELECT is_empty($$ SELECT fn FROM results WHERE n = 0 AND fn <> 'get_excluded_addresses' $$,
                'every read function returns data on this database');
SELECT is_empty($$ SELECT fn, sample_scans FROM results WHERE sample_scans <> 0 $$,
                'no read function scans a raw-sample partition');
SELECT ok((SELECT sum(rollup_scans) > 0 FROM results), 'the check sees rollup scans (it counts this transaction)');
-- The counter before and after one direct read (the ingest's duplicate probes have
-- already scanned samples in this transaction, so only the difference proves anything).
CREATE FUNCTION pg_temp.direct_read_scans() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    s0 bigint := pg_temp.scans('metrics.samples');
BEGIN
    PERFORM count(*) FROM metrics.samples;
    RETURN pg_temp.scans('metrics.samples') - s0;
END
$$;
SELECT cmp_ok(pg_temp.direct_read_scans(), '>', 0::bigint, 'and it would see a raw-sample scan');

SELECT * FROM finish();
ROLLBACK;
