-- Roles: the connecting authenticator can only become the roles granted to it.
-- Roles are cluster-wide, so create them only where they do not exist yet.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticator') THEN
        CREATE ROLE authenticator LOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'web_anon') THEN
        CREATE ROLE web_anon NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'writer') THEN
        CREATE ROLE writer NOLOGIN;
    END IF;
END
$$;

-- Enforce the attributes even on roles that existed before us.
ALTER ROLE authenticator LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE;
ALTER ROLE web_anon NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
ALTER ROLE writer NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;

GRANT web_anon TO authenticator;
GRANT writer TO authenticator;

CREATE SCHEMA IF NOT EXISTS api;
GRANT USAGE ON SCHEMA api TO web_anon, writer;

-- Nothing is granted to PUBLIC: not the public schema, not functions created from now on.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON SCHEMA api FROM PUBLIC;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA api REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO authenticator', current_database());
END
$$;
