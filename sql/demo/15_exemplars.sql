-- Demo exemplars for `metrics-rpc dev`: a trace link on every block_height point of
-- mainnet (api.get_exemplars), written through ingest.write_exemplars like remote-write
-- data, on the series 10_metrics.sql wrote. Trace ids are functions of time, so loading
-- again later only adds the points that are new.
WITH ts AS (
    SELECT t, extract(epoch FROM t)::bigint AS e
    FROM generate_series(metrics.floor_to(now(), '5 minutes') - interval '7 days',
                         metrics.floor_to(now(), '5 minutes'), interval '5 minutes') AS t
)
SELECT w.*
FROM (SELECT array_agg(t ORDER BY t) AS ts,
             array_agg(((e - 1700000000) / 6)::float8 ORDER BY t) AS vals,
             array_agg(jsonb_build_object('trace_id', md5('block' || e),
                                          'span_id', left(md5('span' || e), 16))::text ORDER BY t)
                 AS labels,
             array_agg(1 ORDER BY t) AS series
      FROM ts) AS b,
     ingest.write_exemplars(NULL, NULL, ARRAY['block_height'], ARRAY['{"instance": "node-1", "manifest_tier": "mainnet"}'],
                            b.series, b.ts, b.vals, b.labels) AS w;
