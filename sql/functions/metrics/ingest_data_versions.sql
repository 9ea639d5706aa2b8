-- The samples' data-version trigger (migration 0080), with one exception for the ingest.
-- A bump locks the schema's row of metrics_rpc.data_versions until the transaction ends,
-- so bumped from the trigger, right after a batch's samples INSERT, every concurrent
-- batch into the same schema would wait through the other's whole rollup work.
-- ingest.write_series_samples sets metrics.data_versions_deferred (transaction-local,
-- reset before it returns) around its INSERT and bumps the versions itself as its last
-- step; every other INSERT into metrics.samples bumps here, as before.
CREATE OR REPLACE FUNCTION metrics.samples_data_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF current_setting('metrics.data_versions_deferred', true) IS DISTINCT FROM 'on' THEN
        PERFORM metrics.bump_data_versions(ARRAY(SELECT DISTINCT schema FROM new_rows));
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION metrics.samples_data_changed() FROM PUBLIC;
