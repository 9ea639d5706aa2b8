-- Partitions for this month and the next two exist as soon as migrate has run, so a fresh
-- deployment's first writes (many senders at once) create no table; ingest.run_maintenance
-- keeps them ahead from then on.
DO $$
DECLARE
    v_month  timestamp;
    v_parent text;
BEGIN
    FOR v_month IN
        SELECT date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m)
        FROM generate_series(0, 2) AS m
    LOOP
        FOREACH v_parent IN ARRAY ARRAY['samples_cumsum', 'samples_network',
                                        'rollup_1m_cumsum', 'rollup_1m_network'] LOOP
            EXECUTE format('CREATE TABLE IF NOT EXISTS metrics.%I PARTITION OF metrics.%I FOR VALUES FROM (%L) TO (%L)',
                           v_parent || to_char(v_month, '"_p"YYYY_MM'), v_parent,
                           v_month::text || '+00', (v_month + interval '1 month')::text || '+00');
        END LOOP;
    END LOOP;
END
$$;
