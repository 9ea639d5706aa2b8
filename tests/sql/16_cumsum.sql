-- Cumulative metrics: running totals that include everything before p_from.
BEGIN;
\ir _setup.sql
-- Timestamp literals below are UTC; the functions do not depend on the session's zone
-- (13_agg_metric_intervals checks that under another zone).
SET LOCAL TimeZone = 'UTC';
SELECT plan(10);

SELECT lives_ok($$ SELECT * FROM tests.write_samples('[
    ["2026-10-01 10:00:00+00", "web_requests", {"instance": "a"}, 5],
    ["2026-10-01 10:30:00+00", "web_requests", {"instance": "a"}, 7],
    ["2026-10-02 09:00:00+00", "web_requests", {"instance": "a"}, 11],
    ["2026-10-02 09:59:59+00", "web_requests", {"instance": "a"}, 1],
    ["2026-10-02 10:00:00+00", "web_requests", {"instance": "a"}, 2],
    ["2026-10-02 10:00:00+00", "web_requests", {"instance": "b"}, 100],
    ["2026-10-03 00:00:30+00", "web_requests", {"instance": "a"}, 4],
    ["2026-10-02 10:00:00+00", "system_tcp_sent", {"instance": "a"}, 1000]]') $$, 'cumulative samples');

-- base before 09:30 = 5 + 7 + 11 = 23
SELECT results_eq($$ SELECT * FROM api.get_agg_cumsum_metric('web_requests', 'cumsum', '1 hour', '2026-10-02 09:30', '2026-10-04') $$,
    $$ VALUES ('2026-10-02 09:00+00'::timestamptz, '24'), ('2026-10-02 10:00+00', '126'), ('2026-10-03 00:00+00', '130') $$,
    'running total per hour, oldest first, starting from everything before p_from, all series summed');
SELECT results_eq($$ SELECT * FROM api.get_agg_cumsum_metric('web_requests', 'cumsum', '1 day', '2026-10-02 09:30', '2026-10-04') $$,
    $$ VALUES ('2026-10-02 00:00+00'::timestamptz, '126'), ('2026-10-03 00:00+00', '130') $$,
    'running total per day with a partial first day');
SELECT results_eq($$ SELECT * FROM api.get_agg_cumsum_metric('web_requests', 'cumsum', '1 day', '2026-10-03', '2026-10-04') $$,
    $$ VALUES ('2026-10-03 00:00+00'::timestamptz, '130') $$,
    'the base of whole days before p_from comes from the day rollups');
SELECT results_eq($$ SELECT * FROM api.get_agg_cumsum_metric('web_requests', 'cumsum', '1 minute', '2026-10-02 09:59', '2026-10-02 10:01') $$,
    $$ VALUES ('2026-10-02 09:59+00'::timestamptz, '24'), ('2026-10-02 10:00+00', '126') $$,
    'per minute, with a base made of days, hours and minutes');
SELECT results_eq($$ SELECT * FROM api.get_agg_cumsum_metric('web_requests', p_interval => '1 month', p_from => '2026-01-01', p_to => '2027-01-01') $$,
    $$ VALUES ('2026-10-01 00:00+00'::timestamptz, '130') $$,
    'p_schema defaults to cumsum; monthly buckets');
SELECT is_empty($$ SELECT * FROM api.get_agg_cumsum_metric('web_requests', 'cumsum', '1 hour', '2026-10-05', '2026-10-06')
                   UNION ALL SELECT * FROM api.get_agg_cumsum_metric('web_requests', 'cumsum', NULL, '2026-10-01', '2026-10-06') $$,
                'no data in range, or a NULL argument: no rows');
SELECT results_eq($$ SELECT * FROM api.get_all_latest_cumsum_metrics() $$,
    $$ VALUES ('2026-10-02 10:00+00'::timestamptz, 'system_tcp_sent', '1000'),
              ('2026-10-03 00:00+00', 'web_requests', '130') $$,
    'latest cumsum metrics: the total of everything written, per metric');
SELECT lives_ok($$ SELECT * FROM tests.write_samples('[["2026-09-01 00:00:00+00", "web_requests", {"instance": "c"}, 1000]]') $$,
                'a late sample long before the range');
SELECT results_eq($$ SELECT * FROM api.get_agg_cumsum_metric('web_requests', 'cumsum', '1 day', '2026-10-03', '2026-10-04') $$,
    $$ VALUES ('2026-10-03 00:00+00'::timestamptz, '1130') $$,
    'the late sample raises every later running total');

SELECT * FROM finish();
ROLLBACK;
