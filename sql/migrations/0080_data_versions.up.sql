-- Data versions for the response cache (docs/CACHING.md). Every write that can change
-- what a read function returns bumps the version of its data domain in the writer's own
-- transaction and sends NOTIFY metrics_rpc_data, so a committed write and its version
-- become visible together. Domains: a metric schema name for samples ('mainnet', 'geo',
-- ...), 'metrics.excluded_addresses' and 'sessions.observations' for those tables.
CREATE TABLE metrics_rpc.data_versions (
    domain     text        PRIMARY KEY,
    version    bigint      NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE metrics_rpc.data_version_seq;

-- The API's own connection (authenticator) reads the versions; only the owner writes them.
GRANT USAGE ON SCHEMA metrics_rpc TO authenticator, metrics_owner;
GRANT SELECT ON metrics_rpc.data_versions TO authenticator;
GRANT SELECT, INSERT, UPDATE ON metrics_rpc.data_versions TO metrics_owner;
GRANT USAGE ON SEQUENCE metrics_rpc.data_version_seq TO metrics_owner;

-- Bumps the given domains (in a fixed order, so two writers never deadlock on them) and
-- tells every replica. The payload is "<epoch seconds of the change> <domain>,<domain>…".
CREATE FUNCTION metrics.bump_data_versions(p_domains text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_domains text[] := ARRAY(SELECT DISTINCT d FROM unnest(p_domains) d
                              WHERE d IS NOT NULL ORDER BY d);
    v_domain text;
BEGIN
    IF cardinality(v_domains) = 0 THEN
        RETURN;
    END IF;
    FOREACH v_domain IN ARRAY v_domains LOOP
        INSERT INTO metrics_rpc.data_versions AS v (domain, version)
        VALUES (v_domain, nextval('metrics_rpc.data_version_seq'))
        ON CONFLICT (domain) DO UPDATE
            SET version = nextval('metrics_rpc.data_version_seq'), changed_at = now();
    END LOOP;
    PERFORM pg_notify('metrics_rpc_data',
                      extract(epoch FROM clock_timestamp())::text || ' '
                      || array_to_string(v_domains, ','));
END
$$;
REVOKE ALL ON FUNCTION metrics.bump_data_versions(text[]) FROM PUBLIC;

-- Statement-level triggers: one bump per statement, not per row.
CREATE FUNCTION metrics.samples_data_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM metrics.bump_data_versions(ARRAY(SELECT DISTINCT schema FROM new_rows));
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION metrics.samples_data_changed() FROM PUBLIC;

CREATE FUNCTION metrics.table_data_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM metrics.bump_data_versions(ARRAY[TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME]);
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION metrics.table_data_changed() FROM PUBLIC;

-- Only rows actually inserted are in new_rows: an exact replay (ON CONFLICT DO NOTHING)
-- bumps nothing.
CREATE TRIGGER data_version AFTER INSERT ON metrics.samples
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION metrics.samples_data_changed();
CREATE TRIGGER data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON metrics.excluded_addresses
    FOR EACH STATEMENT EXECUTE FUNCTION metrics.table_data_changed();
CREATE TRIGGER data_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON sessions.observations
    FOR EACH STATEMENT EXECUTE FUNCTION metrics.table_data_changed();
