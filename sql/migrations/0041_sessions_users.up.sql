-- One row per person seen in a container. The email is the identity (stored lowercased);
-- when a pod carries no email the collector sends the hub username in its place.
CREATE TABLE sessions.users (
    user_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      text NOT NULL UNIQUE CHECK (email <> '' AND email = lower(email)),
    name       text,
    first_seen timestamptz,
    last_seen  timestamptz,
    CHECK (first_seen <= last_seen)
);
COMMENT ON TABLE sessions.users IS
    'People seen in JupyterHub containers; first/last seen are kept by the observation trigger';
