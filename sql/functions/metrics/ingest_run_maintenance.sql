-- Partition upkeep for cron (as the owner): create next months' partitions ahead of time and
-- apply retention (one year for every schema but cumsum, which is kept forever).
CREATE OR REPLACE FUNCTION ingest.run_maintenance(
    p_now             timestamptz DEFAULT now(),
    p_retention       interval    DEFAULT '1 year',
    p_months_ahead    integer     DEFAULT 2)
RETURNS TABLE(action text, object text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, metrics, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    -- partitions wholly before this month start are dropped; the tiers follow suit
    v_cutoff timestamptz := date_trunc('month', (p_now - p_retention) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    v_part   record;
    v_count  bigint;
BEGIN
    IF p_now IS NULL OR p_retention IS NULL OR p_months_ahead IS NULL OR p_months_ahead < 0 THEN
        RAISE EXCEPTION 'run_maintenance: arguments must be non-NULL and p_months_ahead >= 0'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A typo ('-10000 years', '1 day') must not drop a year of data.
    IF p_retention < interval '1 month' THEN
        RAISE EXCEPTION 'run_maintenance: a retention of % is shorter than the minimum of 1 month', p_retention
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    IF metrics.ensure_partitions(ARRAY(
           SELECT p_now + make_interval(months => m) FROM generate_series(0, p_months_ahead) AS m))
       + metrics.ensure_partitions_of(ARRAY['exemplars_cumsum', 'exemplars_network'], ARRAY(
           SELECT p_now + make_interval(months => m) FROM generate_series(0, p_months_ahead) AS m)) > 0 THEN
        action := 'created'; object := format('partitions up to %s months ahead', p_months_ahead);
        RETURN NEXT;
    END IF;

    -- Only the network class: metrics.samples_cumsum, rollup_1m_cumsum and exemplars_cumsum
    -- are never touched.
    FOR v_part IN
        SELECT format('%I.%I', n.nspname, c.relname) AS part
        FROM pg_inherits AS i
        JOIN pg_class AS c ON c.oid = i.inhrelid
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE i.inhparent IN ('metrics.samples_network'::regclass, 'metrics.rollup_1m_network'::regclass,
                              'metrics.exemplars_network'::regclass)
          -- upper bound of "FOR VALUES FROM (...) TO ('...')"
          AND substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \(''([^'']+)''\)')::timestamptz <= v_cutoff
        ORDER BY 1
    LOOP
        EXECUTE format('DROP TABLE %s', v_part.part);
        action := 'dropped'; object := v_part.part;
        RETURN NEXT;
    END LOOP;

    DELETE FROM metrics.rollup_1h AS r WHERE r.schema <> 'cumsum' AND r.bucket < v_cutoff;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count > 0 THEN
        action := 'deleted'; object := format('%s rows of metrics.rollup_1h', v_count); RETURN NEXT;
    END IF;
    DELETE FROM metrics.rollup_1d AS r WHERE r.schema <> 'cumsum' AND r.bucket < v_cutoff;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count > 0 THEN
        action := 'deleted'; object := format('%s rows of metrics.rollup_1d', v_count); RETURN NEXT;
    END IF;
    -- latest state of metrics silent for longer than the retention goes too
    DELETE FROM metrics.latest_by_name AS l WHERE l.schema <> 'cumsum' AND l.last_time < v_cutoff;
    DELETE FROM metrics.latest_by_series AS l
    WHERE l.last_time < v_cutoff
      AND EXISTS (SELECT FROM metrics.series AS s WHERE s.id = l.series_id AND s.schema <> 'cumsum');
    -- series with no sample (nor exemplar) left (one pass over the samples, so daily, not
    -- per write); a series that comes back is registered again
    DELETE FROM metrics.series AS s
    WHERE s.schema <> 'cumsum'
      AND NOT EXISTS (SELECT FROM metrics.samples_network AS x WHERE x.series_id = s.id)
      AND NOT EXISTS (SELECT FROM metrics.exemplars_network AS x WHERE x.series_id = s.id);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count > 0 THEN
        action := 'deleted'; object := format('%s series without samples', v_count); RETURN NEXT;
    END IF;
END
$$;

COMMENT ON FUNCTION ingest.run_maintenance(timestamptz, interval, integer) IS
$$Creates the monthly partitions of metrics.samples, metrics.rollup_1m and metrics.exemplars for this month and p_months_ahead more, and applies retention: drops the partitions (samples, minute rollups, exemplars) of every schema but cumsum that end before the month p_retention ago, and deletes the matching hour/day rollups, stale latest state and the series left without samples and exemplars. Refuses a retention under 1 month. For the owner (cron), not the writer. Returns what it did. Call it daily (app or cron).$$;
REVOKE ALL ON FUNCTION ingest.run_maintenance(timestamptz, interval, integer) FROM PUBLIC;
-- The owner's job (cron, psql), not the writer's: it drops tables.
REVOKE ALL ON FUNCTION ingest.run_maintenance(timestamptz, interval, integer) FROM writer;
