-- What the collector saw: one row per (user, pod, collection time), so replaying a
-- batch changes nothing. Partitioned by month (UTC) of observed_at; partitions are made
-- on demand by sessions.ensure_observation_partitions, called by the ingest function.
CREATE TABLE sessions.observations (
    observed_at       timestamptz NOT NULL,
    user_id           bigint NOT NULL REFERENCES sessions.users (user_id),
    pod_name          text NOT NULL CHECK (pod_name <> ''),
    node_name         text NOT NULL CHECK (node_name <> ''),
    container_base    text NOT NULL CHECK (container_base <> ''),
    container_version text NOT NULL CHECK (container_version <> ''),
    age_seconds       integer NOT NULL CHECK (age_seconds >= 0),
    PRIMARY KEY (user_id, pod_name, observed_at)
) PARTITION BY RANGE (observed_at);
COMMENT ON TABLE sessions.observations IS
    'Running JupyterHub pods as seen by the collector; exactly once per (user, pod, observed_at)';
COMMENT ON COLUMN sessions.observations.age_seconds IS
    'Pod age at observed_at (observed_at − creationTimestamp), in seconds';

-- Month partitions covering [p_from, p_to]; concurrent callers serialise on a lock so
-- two batches for a new month do not race to create the same partition.
CREATE FUNCTION sessions.ensure_observation_partitions(p_from timestamptz, p_to timestamptz)
RETURNS integer
LANGUAGE plpgsql
VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_month   timestamp := date_trunc('month', p_from AT TIME ZONE 'UTC');
    v_last    timestamp := date_trunc('month', p_to AT TIME ZONE 'UTC');
    v_name    text;
    v_created integer := 0;
BEGIN
    IF p_from IS NULL OR p_to IS NULL OR p_from > p_to THEN
        RAISE EXCEPTION 'ensure_observation_partitions: invalid range [%, %]', p_from, p_to
            USING ERRCODE = '22023';
    END IF;
    IF v_last > v_month + interval '10 years' THEN
        RAISE EXCEPTION 'ensure_observation_partitions: range [%, %] spans more than 10 years', p_from, p_to
            USING ERRCODE = '22023';
    END IF;
    WHILE v_month <= v_last LOOP
        v_name := format('observations_p%s', to_char(v_month, 'YYYY_MM'));
        IF to_regclass(format('sessions.%I', v_name)) IS NULL THEN
            PERFORM pg_advisory_xact_lock(hashtext('sessions.observations partitions'));
            IF to_regclass(format('sessions.%I', v_name)) IS NULL THEN
                EXECUTE format(
                    'CREATE TABLE sessions.%I PARTITION OF sessions.observations FOR VALUES FROM (%L) TO (%L)',
                    v_name,
                    v_month AT TIME ZONE 'UTC',
                    (v_month + interval '1 month') AT TIME ZONE 'UTC');
                v_created := v_created + 1;
            END IF;
        END IF;
        v_month := v_month + interval '1 month';
    END LOOP;
    RETURN v_created;
END
$$;
COMMENT ON FUNCTION sessions.ensure_observation_partitions(timestamptz, timestamptz) IS
    'Create the monthly (UTC) partitions of sessions.observations covering a range; returns how many were created';
REVOKE ALL ON FUNCTION sessions.ensure_observation_partitions(timestamptz, timestamptz) FROM PUBLIC;
