-- Roles and grants from the first migration: who can connect, who can become whom.
BEGIN;
\ir _setup.sql
SELECT plan(22);

SELECT has_role('authenticator');
SELECT has_role('web_anon');
SELECT has_role('writer');

SELECT ok((SELECT rolcanlogin FROM pg_roles WHERE rolname = 'authenticator'),
          'authenticator can log in');
SELECT ok(NOT (SELECT rolinherit FROM pg_roles WHERE rolname = 'authenticator'),
          'authenticator is NOINHERIT: it holds no privilege until it switches role');
SELECT ok(NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'web_anon'), 'web_anon cannot log in');
SELECT ok(NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'writer'), 'writer cannot log in');
SELECT ok(NOT (SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles
               WHERE rolname = 'authenticator'), 'authenticator has no admin attributes');

SELECT is_member_of('web_anon', 'authenticator');
SELECT is_member_of('writer', 'authenticator');
SELECT isnt_member_of('writer', 'web_anon');
SELECT isnt_member_of('web_anon', 'writer');

SELECT has_schema('api');
SELECT schema_privs_are('api', 'web_anon', ARRAY['USAGE']);
SELECT schema_privs_are('api', 'writer', ARRAY['USAGE']);
SELECT schema_privs_are('public', 'public', ARRAY[]::text[],
                        'nothing on schema public is granted to PUBLIC');

-- Nothing in api is executable by PUBLIC.
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
    WHERE p.pronamespace = 'api'::regnamespace
      AND EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                  WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
$$, 'no api function is executable by PUBLIC');

-- web_anon holds none of writer's privileges, directly or through membership.
SELECT ok(NOT pg_has_role('web_anon', 'writer', 'USAGE'), 'web_anon cannot act as writer');
SELECT ok(NOT pg_has_role('web_anon', 'authenticator', 'MEMBER'),
          'web_anon cannot act as authenticator');

-- In a real authenticator session (as the API connects), only the granted roles can be
-- assumed: a forged JWT role such as postgres fails in the database too. PostgreSQL 15
-- checks SET ROLE against the session user, so we switch the session user itself.
SET LOCAL SESSION AUTHORIZATION authenticator;
SELECT lives_ok($$ SET LOCAL ROLE web_anon $$, 'authenticator can switch to web_anon');
SELECT lives_ok($$ SET LOCAL ROLE writer $$, 'authenticator can switch to writer');
SELECT throws_ok($$ SET LOCAL ROLE postgres $$, '42501', NULL,
                 'authenticator cannot switch to postgres');
RESET ROLE;
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
