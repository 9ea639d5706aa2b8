-- Exemplars (docs/INGEST.md, "Exemplars"): a trace link from a point of a series, as
-- remote write sends them. Exactly once per (series, time), as Prometheus keeps them:
-- an exact replay changes nothing, another value or label set at a stored (series, time)
-- is a conflicting duplicate and the stored one stays.
--
-- Stored like metrics.samples, so retention and upkeep are the same: partitioned by
-- retention class (cumsum kept forever, every other schema one year), then by UTC month;
-- metrics.ensure_partitions creates the months, ingest.run_maintenance creates them
-- ahead and drops old network months. Read by series and time window
-- (api.get_exemplars), hence the key's order. Only SECURITY DEFINER functions owned by
-- metrics_owner touch it: no grants.
CREATE TABLE metrics.exemplars (
    series_id bigint           NOT NULL,
    time      timestamptz      NOT NULL,
    schema    text             NOT NULL,  -- the series' schema (the partition key)
    value     double precision NOT NULL,  -- as sent: NaN and +-Infinity too
    labels    jsonb            NOT NULL DEFAULT '{}',  -- the exemplar's own, e.g. trace_id
    PRIMARY KEY (series_id, time, schema),
    CHECK (jsonb_typeof(labels) = 'object')
) PARTITION BY LIST (schema);

CREATE TABLE metrics.exemplars_cumsum PARTITION OF metrics.exemplars
    FOR VALUES IN ('cumsum') PARTITION BY RANGE (time);
CREATE TABLE metrics.exemplars_network PARTITION OF metrics.exemplars
    DEFAULT PARTITION BY RANGE (time);

COMMENT ON TABLE metrics.exemplars IS
    'Exemplars of remote write, exactly once per (series, time): value and own labels (trace_id, ...). Read through api.get_exemplars.';

-- This month's and the next two months' partitions, as 0070 made them for samples.
DO $$
DECLARE
    v_month  timestamp;
    v_parent text;
BEGIN
    FOR v_month IN
        SELECT date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m)
        FROM generate_series(0, 2) AS m
    LOOP
        FOREACH v_parent IN ARRAY ARRAY['exemplars_cumsum', 'exemplars_network'] LOOP
            EXECUTE format('CREATE TABLE IF NOT EXISTS metrics.%I PARTITION OF metrics.%I FOR VALUES FROM (%L) TO (%L)',
                           v_parent || to_char(v_month, '"_p"YYYY_MM'), v_parent,
                           v_month::text || '+00', (v_month + interval '1 month')::text || '+00');
        END LOOP;
    END LOOP;
END
$$;
