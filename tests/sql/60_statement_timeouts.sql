-- Per-role statement timeouts (migration 0060): set cluster-wide on the API roles, and
-- why the API must apply them itself: SET ROLE does not pick up a role's settings.
BEGIN;
\ir _setup.sql
SELECT plan(6);

CREATE FUNCTION tests.role_setting(p_role text, p_name text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT split_part(c, '=', 2)
    FROM pg_db_role_setting s, unnest(s.setconfig) AS c
    WHERE s.setrole = p_role::regrole AND s.setdatabase = 0 AND split_part(c, '=', 1) = p_name
$$;

SELECT is(tests.role_setting('web_anon', 'statement_timeout'), '5s',
          'web_anon: statement_timeout 5s');
SELECT is(tests.role_setting('writer', 'statement_timeout'), '30s',
          'writer: statement_timeout 30s');
SELECT is(tests.role_setting('authenticator', 'statement_timeout'), '30s',
          'authenticator: statement_timeout 30s as a safety net for every pooled session');
SELECT ok(tests.role_setting('web_anon', 'statement_timeout')::interval
          < tests.role_setting('writer', 'statement_timeout')::interval,
          'anonymous calls get the shorter budget');
SELECT is_empty($$
    SELECT 1 FROM pg_db_role_setting
    WHERE setrole IN ('web_anon'::regrole, 'writer'::regrole) AND setdatabase <> 0
$$, 'the settings are cluster-wide (databases cloned from a template keep them)');

-- PostgreSQL applies role settings at login only: after SET ROLE the session value stays.
SET LOCAL statement_timeout = '0';
SELECT tests.authenticate_as('web_anon');
SELECT is(current_setting('statement_timeout'), '0',
          'SET ROLE does not apply the role''s statement_timeout (the API applies it)');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;
