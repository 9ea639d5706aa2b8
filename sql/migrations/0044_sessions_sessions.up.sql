-- A session is one life of one pod: same user, pod name and node, and the same start
-- (observed_at − age, truncated to the minute in UTC). Pod names are reused, so the
-- start is part of the identity; gaps in collection do not matter because nothing here
-- depends on observations being consecutive. Node is part of the identity so a pod
-- name that reappears on another node is another session.
CREATE TABLE sessions.sessions (
    session_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id           bigint NOT NULL REFERENCES sessions.users (user_id),
    pod_name          text NOT NULL,
    node_name         text NOT NULL,
    start_minute      timestamptz NOT NULL,
    started_at        timestamptz NOT NULL,
    ended_at          timestamptz NOT NULL,
    runtime_seconds   integer NOT NULL CHECK (runtime_seconds >= 0),
    first_observed_at timestamptz NOT NULL,
    last_observed_at  timestamptz NOT NULL,
    observations      integer NOT NULL CHECK (observations > 0),
    container_base    text NOT NULL,
    container_version text NOT NULL,
    UNIQUE (user_id, pod_name, node_name, start_minute),
    CHECK (ended_at >= started_at),
    CHECK (first_observed_at <= last_observed_at)
);
COMMENT ON TABLE sessions.sessions IS
    'One row per pod life, kept current by the trigger on sessions.observations (no refresh job)';
COMMENT ON COLUMN sessions.sessions.start_minute IS
    'Identity part: date_trunc(minute, observed_at − age) in UTC';
COMMENT ON COLUMN sessions.sessions.started_at IS
    'Earliest observed_at − age of the session''s observations (the pod''s creation time)';
COMMENT ON COLUMN sessions.sessions.runtime_seconds IS
    'Largest observed age: ages 300, 600, 900 make 900 s, not their sum';
COMMENT ON COLUMN sessions.sessions.ended_at IS
    'started_at + runtime_seconds: the last moment the pod was seen alive';

-- Range reads ask "which sessions overlap [from, to)".
CREATE INDEX sessions_span_idx ON sessions.sessions
    USING gist (tstzrange(started_at, ended_at, '[]'));
CREATE INDEX sessions_user_started_idx ON sessions.sessions (user_id, started_at);
