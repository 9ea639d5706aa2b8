-- Container sessions (JupyterHub) live in their own schema. Nothing in it is granted to
-- the request roles: web_anon and writer reach it only through SECURITY DEFINER
-- functions in `api`.
CREATE SCHEMA sessions;
REVOKE ALL ON SCHEMA sessions FROM PUBLIC;
COMMENT ON SCHEMA sessions IS
    'JupyterHub container observations and the sessions derived from them; read through api functions only';
