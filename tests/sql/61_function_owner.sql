-- Least privilege (migration 0062, sql/functions): SECURITY DEFINER functions are owned by
-- the NOLOGIN role metrics_owner, not a superuser, and their search_path ends with pg_temp.
BEGIN;
\ir _setup.sql
SELECT plan(11);

SELECT has_role('metrics_owner');
SELECT ok(NOT (SELECT rolcanlogin OR rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication
                      OR rolbypassrls OR rolinherit
               FROM pg_roles WHERE rolname = 'metrics_owner'),
          'metrics_owner cannot log in and has no attribute');
SELECT isnt_member_of('metrics_owner', 'authenticator');
SELECT ok(NOT pg_has_role('authenticator', 'metrics_owner', 'USAGE')
          AND NOT pg_has_role('writer', 'metrics_owner', 'USAGE')
          AND NOT pg_has_role('web_anon', 'metrics_owner', 'USAGE'),
          'no API role can act as metrics_owner');

SELECT isnt_empty($$ SELECT FROM pg_proc WHERE prosecdef $$,
                  'there are SECURITY DEFINER functions to check');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text || ' owned by ' || pg_get_userbyid(p.proowner)
    FROM pg_proc p
    WHERE p.prosecdef AND p.proowner <> 'metrics_owner'::regrole
$$, 'every SECURITY DEFINER function is owned by metrics_owner');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
    WHERE p.prosecdef
      AND NOT EXISTS (SELECT FROM unnest(p.proconfig) AS c
                      WHERE c LIKE 'search\_path=%' AND c ~ ',\s*pg_temp$')
$$, 'every SECURITY DEFINER function pins a search_path ending with pg_temp');
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
    WHERE p.prosecdef AND pg_get_userbyid(p.proowner) IN
          (SELECT rolname FROM pg_roles WHERE rolsuper)
$$, 'no SECURITY DEFINER function runs as a superuser');

-- the data the functions reach belongs to the same owner (so they need no other rights)
SELECT is_empty($$
    SELECT c.oid::regclass::text || ' owned by ' || pg_get_userbyid(c.relowner)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname IN ('api', 'metrics', 'ingest', 'sessions')
      AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relowner <> 'metrics_owner'::regrole
$$, 'every table and view in our schemas is owned by metrics_owner');

-- behaviour: inside a SECURITY DEFINER function the writer acts as metrics_owner
CREATE FUNCTION tests.secdef_user() RETURNS text LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$ SELECT current_user::text $$;
ALTER FUNCTION tests.secdef_user() OWNER TO metrics_owner;
GRANT EXECUTE ON FUNCTION tests.secdef_user() TO writer;
SELECT tests.authenticate_as('writer', 'owner-test');
SELECT is(tests.secdef_user(), 'metrics_owner', 'a SECURITY DEFINER call runs as metrics_owner');
SELECT lives_ok($$ SELECT api.add_excluded_address('manifest1ownertest') $$,
                'writer still adds an excluded address through its owner-run function');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;
