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
-- Write samples given as a JSON array of [time, name, labels, value] through the ingest
-- path (ingest.write_samples), as the superuser.
CREATE OR REPLACE FUNCTION tests.write_samples(p_rows jsonb)
RETURNS TABLE(received bigint, written bigint, duplicates bigint) LANGUAGE sql AS $$
    SELECT w.* FROM (
        SELECT array_agg((r ->> 0)::timestamptz ORDER BY o) AS ts, array_agg(r ->> 1 ORDER BY o) AS ns,
               array_agg(nullif(r -> 2, 'null') ORDER BY o) AS ls, array_agg((r ->> 3)::float8 ORDER BY o) AS vs
        FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS e(r, o)) AS a,
    ingest.write_samples(a.ts, a.ns, a.ls, a.vs) AS w
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA tests TO PUBLIC;
