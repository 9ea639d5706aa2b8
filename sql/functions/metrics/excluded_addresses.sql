-- The excluded-address list: anyone reads it, writer edits it. Every change is audited
-- (metrics.excluded_addresses_audit, by trigger) with the JWT sub and role.

CREATE OR REPLACE FUNCTION api.get_excluded_addresses()
RETURNS TABLE(id integer, value text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, metrics, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=60, stale-while-revalidate=300'
AS $$
    SELECT e.id, e.value FROM metrics.excluded_addresses AS e ORDER BY e.id
$$;

COMMENT ON FUNCTION api.get_excluded_addresses() IS
    'Addresses excluded from the circulating supply, in the order they were added.';
REVOKE ALL ON FUNCTION api.get_excluded_addresses() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_excluded_addresses() TO web_anon, writer;


CREATE OR REPLACE FUNCTION api.add_excluded_address(p_value text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, metrics, pg_temp
AS $$
DECLARE
    v_value text := btrim(p_value);
BEGIN
    IF v_value IS NULL OR v_value = '' THEN
        RAISE EXCEPTION 'p_value must be a non-empty address'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO metrics.excluded_addresses (value) VALUES (v_value);
EXCEPTION
    WHEN unique_violation THEN
        RAISE EXCEPTION 'address % is already excluded', v_value
            USING ERRCODE = 'unique_violation',
                  HINT = 'Call rm_excluded_address first to replace it, or leave it as it is.';
END
$$;

COMMENT ON FUNCTION api.add_excluded_address(text) IS
$$Adds an address (surrounding blanks removed) to the excluded-address list. Writer only; audited with the JWT sub and role.
An empty address fails with 22023 (HTTP 400); an address already in the list fails with 23505 unique_violation (HTTP 409 Conflict) and changes nothing.$$;
REVOKE ALL ON FUNCTION api.add_excluded_address(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.add_excluded_address(text) TO writer;


CREATE OR REPLACE FUNCTION api.rm_excluded_address(p_value text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, metrics, pg_temp
AS $$
DECLARE
    v_value text := btrim(p_value);
BEGIN
    IF v_value IS NULL OR v_value = '' THEN
        RAISE EXCEPTION 'p_value must be a non-empty address'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM metrics.excluded_addresses AS e WHERE e.value = v_value;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'address % is not in the excluded-address list', v_value
            USING ERRCODE = 'PT404';
    END IF;
END
$$;

COMMENT ON FUNCTION api.rm_excluded_address(text) IS
$$Removes an address (surrounding blanks removed) from the excluded-address list. Writer only; audited with the JWT sub and role.
An empty address fails with 22023 (HTTP 400); an address not in the list fails with SQLSTATE PT404 (HTTP 404).$$;
REVOKE ALL ON FUNCTION api.rm_excluded_address(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.rm_excluded_address(text) TO writer;
