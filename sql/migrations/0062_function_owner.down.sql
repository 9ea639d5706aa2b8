DO $$
BEGIN
    EXECUTE format('REASSIGN OWNED BY metrics_owner TO %I', current_user);
END
$$;
DROP FUNCTION IF EXISTS metrics_rpc.claim_ownership();
-- The role is cluster-wide: other databases may still have objects owned by it.
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON SCHEMA api, metrics, ingest, sessions FROM metrics_owner');
    DROP ROLE metrics_owner;
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE 'metrics_owner is still used in another database: kept';
END
$$;
