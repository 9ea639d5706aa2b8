-- Shared pgTAP helpers, included by every test file right after BEGIN (`\ir _setup.sql`),
-- so they roll back with the test. Run as the superuser; the helpers switch roles.
\set QUIET on
\pset format unaligned
\pset tuples_only on
\pset pager off

CREATE SCHEMA IF NOT EXISTS tests;
GRANT USAGE ON SCHEMA tests TO PUBLIC;

-- Act as an API role for the rest of the transaction, exactly as the HTTP layer does:
-- request.jwt.claims carries role and sub, then SET LOCAL ROLE.
CREATE OR REPLACE FUNCTION tests.authenticate_as(p_role text, p_sub text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('request.jwt.claims',
                       json_build_object('role', p_role, 'sub', p_sub)::text, true);
    PERFORM set_config('role', p_role, true);
END
$$;

-- Back to the superuser that runs the test.
CREATE OR REPLACE FUNCTION tests.clear_authentication()
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('request.jwt.claims', '', true);
    PERFORM set_config('role', 'none', true);
END
$$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA tests TO PUBLIC;
