-- Per-role statement timeouts (migration 0060): set cluster-wide on the API roles. (SET
-- ROLE does not pick up a role's settings, so the API applies them itself: that is
-- tested with the API, not here.)
BEGIN;
\ir _setup.sql
SELECT plan(4);

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
SELECT is_empty($$
    SELECT 1 FROM pg_db_role_setting
    WHERE setrole IN ('web_anon'::regrole, 'writer'::regrole) AND setdatabase <> 0
$$, 'the settings are cluster-wide (databases cloned from a template keep them)');

SELECT * FROM finish();
ROLLBACK;
