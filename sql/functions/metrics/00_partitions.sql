-- Monthly partitions (UTC calendar months) of metrics.samples and metrics.rollup_1m, in
-- both retention classes. Named <parent>_pYYYY_MM, e.g. metrics.samples_network_p2026_11.

-- How long samples of every schema but cumsum are kept (cumsum: forever). The ingest
-- window's lower bound and ingest.run_maintenance's default retention.
CREATE OR REPLACE FUNCTION metrics.network_retention()
RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT interval '1 year' $$;

-- Create the partitions of metrics.<p_parents> (each RANGE (time)) for every month that
-- holds one of p_times and has none yet.
-- Cheap when they exist (one catalog probe per distinct month), so ingest calls it per
-- batch. Race-free: creators serialise on an advisory lock and re-check with a fresh
-- snapshot (to_regclass reads the backend's catalog cache, which another backend's
-- committed CREATE may not have reached yet). A partition is created standalone and then
-- ATTACHed: that takes SHARE UPDATE EXCLUSIVE on the parent, which does not conflict
-- with concurrent inserts (CREATE TABLE … PARTITION OF would take ACCESS EXCLUSIVE, block
-- every read and deadlock with a batch that already inserted and waits for the lock).
CREATE OR REPLACE FUNCTION metrics.ensure_partitions_of(p_parents text[], p_times timestamptz[])
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, metrics, pg_temp
AS $$
DECLARE
    v_month   timestamp;
    v_parent  text;
    v_name    text;
    v_created integer := 0;
    v_locked  boolean := false;
BEGIN
    FOR v_month IN
        SELECT DISTINCT date_trunc('month', t AT TIME ZONE 'UTC')
        FROM unnest(p_times) AS t
        WHERE isfinite(t)
    LOOP
        FOREACH v_parent IN ARRAY p_parents LOOP
            v_name := v_parent || to_char(v_month, '"_p"YYYY_MM');
            CONTINUE WHEN metrics.partition_exists(v_name);
            IF NOT v_locked THEN
                PERFORM pg_advisory_xact_lock(hashtext('metrics.ensure_partitions'));
                v_locked := true;
                CONTINUE WHEN metrics.partition_exists(v_name);  -- a new statement: a new snapshot
            END IF;
            EXECUTE format('CREATE TABLE metrics.%I (LIKE metrics.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                           v_name, v_parent);
            EXECUTE format('ALTER TABLE metrics.%I ATTACH PARTITION metrics.%I FOR VALUES FROM (%L) TO (%L)',
                           v_parent, v_name,
                           v_month::text || '+00', (v_month + interval '1 month')::text || '+00');
            v_created := v_created + 1;
        END LOOP;
    END LOOP;
    RETURN v_created;
END
$$;

COMMENT ON FUNCTION metrics.ensure_partitions_of(text[], timestamptz[]) IS
    'Creates the missing monthly partitions of the metrics.<p_parents> tables for the months of p_times; returns how many. Safe under concurrency.';
REVOKE ALL ON FUNCTION metrics.ensure_partitions_of(text[], timestamptz[]) FROM PUBLIC;

-- The partitions of samples and rollup_1m (exemplars have their own months:
-- sql/functions/metrics/ingest_write_exemplars.sql).
CREATE OR REPLACE FUNCTION metrics.ensure_partitions(p_times timestamptz[])
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, metrics, pg_temp
AS $$
BEGIN
    RETURN metrics.ensure_partitions_of(ARRAY['samples_cumsum', 'samples_network',
                                              'rollup_1m_cumsum', 'rollup_1m_network'], p_times);
END
$$;

COMMENT ON FUNCTION metrics.ensure_partitions(timestamptz[]) IS
    'Creates the missing monthly partitions of samples and rollup_1m for the months of p_times; returns how many. Safe under concurrency.';
REVOKE ALL ON FUNCTION metrics.ensure_partitions(timestamptz[]) FROM PUBLIC;

-- Whether metrics.<p_name> exists, read from pg_class with the statement's snapshot.
CREATE OR REPLACE FUNCTION metrics.partition_exists(p_name text)
RETURNS boolean
LANGUAGE sql VOLATILE
SET search_path = pg_catalog
AS $$
    SELECT EXISTS (SELECT FROM pg_class AS c
                   WHERE c.relname = p_name AND c.relnamespace = 'metrics'::regnamespace)
$$;
REVOKE ALL ON FUNCTION metrics.partition_exists(text) FROM PUBLIC;
