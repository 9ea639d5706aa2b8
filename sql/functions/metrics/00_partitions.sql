-- Monthly partitions (UTC calendar months) of metrics.samples and metrics.rollup_1m, in
-- both retention classes. Named <parent>_pYYYY_MM, e.g. metrics.samples_network_p2026_11.

-- Create the partitions of every month that holds one of p_times and has none yet.
-- Cheap when they exist (one to_regclass per distinct month), so ingest calls it per batch.
CREATE OR REPLACE FUNCTION metrics.ensure_partitions(p_times timestamptz[])
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, metrics, pg_temp
AS $$
DECLARE
    v_month   timestamp;
    v_parent  text;
    v_created integer := 0;
    v_locked  boolean := false;
BEGIN
    FOR v_month IN
        SELECT DISTINCT date_trunc('month', t AT TIME ZONE 'UTC')
        FROM unnest(p_times) AS t
        WHERE isfinite(t)
    LOOP
        FOREACH v_parent IN ARRAY ARRAY['samples_cumsum', 'samples_network',
                                        'rollup_1m_cumsum', 'rollup_1m_network'] LOOP
            CONTINUE WHEN to_regclass(format('metrics.%I', v_parent || to_char(v_month, '"_p"YYYY_MM'))) IS NOT NULL;
            -- Concurrent batches may want the same month: serialise creators, re-check.
            IF NOT v_locked THEN
                PERFORM pg_advisory_xact_lock(hashtext('metrics.ensure_partitions'));
                v_locked := true;
                CONTINUE WHEN to_regclass(format('metrics.%I', v_parent || to_char(v_month, '"_p"YYYY_MM'))) IS NOT NULL;
            END IF;
            EXECUTE format('CREATE TABLE metrics.%I PARTITION OF metrics.%I FOR VALUES FROM (%L) TO (%L)',
                           v_parent || to_char(v_month, '"_p"YYYY_MM'), v_parent,
                           v_month::text || '+00', (v_month + interval '1 month')::text || '+00');
            v_created := v_created + 1;
        END LOOP;
    END LOOP;
    RETURN v_created;
END
$$;

COMMENT ON FUNCTION metrics.ensure_partitions(timestamptz[]) IS
    'Creates the missing monthly partitions of samples and rollup_1m for the months of p_times; returns how many.';
REVOKE ALL ON FUNCTION metrics.ensure_partitions(timestamptz[]) FROM PUBLIC;
