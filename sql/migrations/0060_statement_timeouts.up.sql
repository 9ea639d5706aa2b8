-- Per-role statement timeouts: a slow or hostile call cannot hold a connection for long.
-- Roles are cluster-wide, and so are these settings (not IN DATABASE: databases cloned
-- from a template would not carry them). PostgreSQL applies a role's settings only at
-- login, never on SET ROLE, so the API reads them from pg_db_role_setting and applies them
-- per transaction, as PostgREST does for its "impersonated role settings".
ALTER ROLE web_anon SET statement_timeout = '5s';
ALTER ROLE writer SET statement_timeout = '30s';
-- The authenticator itself runs only the schema cache queries and SET ROLE.
ALTER ROLE authenticator SET statement_timeout = '30s';
