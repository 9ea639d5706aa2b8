-- A dedicated owner for our objects. SECURITY DEFINER functions run with their owner's
-- rights, so that owner is a NOLOGIN role without any attribute, not the superuser that
-- runs migrations: a flaw in a function can then reach our data, never the cluster.
-- The role is cluster-wide, so create it only where it does not exist yet.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'metrics_owner') THEN
        CREATE ROLE metrics_owner NOLOGIN;
    END IF;
END
$$;
ALTER ROLE metrics_owner NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION
    NOBYPASSRLS;

-- A migrating role that is not a superuser must be able to hand objects to the owner and
-- replace its functions.
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND NOT pg_has_role(current_user, 'metrics_owner', 'MEMBER') THEN
        EXECUTE format('GRANT metrics_owner TO %I', current_user);
    END IF;
END
$$;

-- Gives metrics_owner what the migrations and function files created in our schemas
-- (tables, views, sequences, types, functions) and the use of those schemas. The migrator
-- runs it after every migration and function file, in the same transaction, so a new
-- function or table is never left owned by the migrating role. Returns how many objects
-- changed hands. A new schema of ours is added to v_schemas by a later migration.
CREATE FUNCTION metrics_rpc.claim_ownership() RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_schemas text[] := ARRAY['api', 'metrics', 'ingest', 'sessions'];
    v_owner oid := 'metrics_owner'::regrole;
    v_count integer := 0;
    v_ddl text;
BEGIN
    FOR v_ddl IN
        SELECT format('GRANT USAGE, CREATE ON SCHEMA %I TO metrics_owner', n.nspname)
        FROM pg_namespace n
        WHERE n.nspname = ANY (v_schemas)
          AND NOT has_schema_privilege(v_owner, n.oid, 'USAGE, CREATE')
        UNION ALL
        SELECT format('ALTER %s %s OWNER TO metrics_owner',
                      CASE WHEN c.relkind = 'S' THEN 'SEQUENCE'
                           WHEN c.relkind = 'v' THEN 'VIEW'
                           WHEN c.relkind = 'm' THEN 'MATERIALIZED VIEW'
                           WHEN c.relkind = 'f' THEN 'FOREIGN TABLE'
                           ELSE 'TABLE' END, c.oid::regclass)
        FROM pg_class c
        WHERE c.relnamespace IN (SELECT oid FROM pg_namespace WHERE nspname = ANY (v_schemas))
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
          AND c.relowner <> v_owner
          -- a sequence owned by a column moves with its table
          AND NOT (c.relkind = 'S' AND EXISTS (
              SELECT FROM pg_depend d
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                AND d.deptype IN ('a', 'i')))
          AND NOT EXISTS (SELECT FROM pg_depend d
                          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                            AND d.deptype = 'e')
        UNION ALL
        SELECT format('ALTER %s %s OWNER TO metrics_owner',
                      CASE WHEN t.typtype = 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
                      t.oid::regtype)
        FROM pg_type t
        WHERE t.typnamespace IN (SELECT oid FROM pg_namespace WHERE nspname = ANY (v_schemas))
          AND t.typowner <> v_owner
          AND (t.typtype IN ('e', 'd', 'r')
               OR (t.typtype = 'c'
                   AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
          AND NOT EXISTS (SELECT FROM pg_depend d
                          WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                            AND d.deptype = 'e')
        UNION ALL
        SELECT format('ALTER %s %s OWNER TO metrics_owner',
                      CASE p.prokind WHEN 'a' THEN 'AGGREGATE' WHEN 'p' THEN 'PROCEDURE'
                                     ELSE 'FUNCTION' END, p.oid::regprocedure)
        FROM pg_proc p
        WHERE p.pronamespace IN (SELECT oid FROM pg_namespace WHERE nspname = ANY (v_schemas))
          AND p.proowner <> v_owner
          AND NOT EXISTS (SELECT FROM pg_depend d
                          WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                            AND d.deptype = 'e')
    LOOP
        EXECUTE v_ddl;
        v_count := v_count + 1;
    END LOOP;
    RETURN v_count;
END
$$;
REVOKE ALL ON FUNCTION metrics_rpc.claim_ownership() FROM PUBLIC;

SELECT metrics_rpc.claim_ownership();
