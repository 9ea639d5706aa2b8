-- Back to the trigger of 0045 (sessions only), then the rollups go.
CREATE OR REPLACE FUNCTION sessions.apply_observations()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE sessions.users u
       SET first_seen = least(u.first_seen, g.first_seen),
           last_seen  = greatest(u.last_seen, g.last_seen)
      FROM (SELECT n.user_id, min(n.observed_at) AS first_seen, max(n.observed_at) AS last_seen
              FROM new_rows n
             GROUP BY n.user_id) g
     WHERE u.user_id = g.user_id;

    INSERT INTO sessions.sessions AS s (
        user_id, pod_name, node_name, start_minute, started_at, ended_at, runtime_seconds,
        first_observed_at, last_observed_at, observations, container_base, container_version)
    SELECT g.user_id, g.pod_name, g.node_name, g.start_minute, g.started_at,
           g.started_at + make_interval(secs => g.runtime_seconds), g.runtime_seconds,
           g.first_observed_at, g.last_observed_at, g.observations,
           g.container_base, g.container_version
      FROM (SELECT o.user_id, o.pod_name, o.node_name, o.start_minute,
                   min(o.started_at) AS started_at,
                   max(o.age_seconds) AS runtime_seconds,
                   min(o.observed_at) AS first_observed_at,
                   max(o.observed_at) AS last_observed_at,
                   count(*)::integer AS observations,
                   (array_agg(o.container_base ORDER BY o.observed_at DESC))[1] AS container_base,
                   (array_agg(o.container_version ORDER BY o.observed_at DESC))[1] AS container_version
              FROM (SELECT n.*,
                           n.observed_at - make_interval(secs => n.age_seconds) AS started_at,
                           date_trunc('minute', n.observed_at - make_interval(secs => n.age_seconds), 'UTC')
                               AS start_minute
                      FROM new_rows n) o
             GROUP BY o.user_id, o.pod_name, o.node_name, o.start_minute) g
    ON CONFLICT (user_id, pod_name, node_name, start_minute) DO UPDATE
       SET started_at        = least(s.started_at, excluded.started_at),
           runtime_seconds   = greatest(s.runtime_seconds, excluded.runtime_seconds),
           ended_at          = least(s.started_at, excluded.started_at)
                               + make_interval(secs => greatest(s.runtime_seconds, excluded.runtime_seconds)),
           first_observed_at = least(s.first_observed_at, excluded.first_observed_at),
           last_observed_at  = greatest(s.last_observed_at, excluded.last_observed_at),
           observations      = s.observations + excluded.observations,
           container_base    = CASE WHEN excluded.last_observed_at > s.last_observed_at
                                    THEN excluded.container_base ELSE s.container_base END,
           container_version = CASE WHEN excluded.last_observed_at > s.last_observed_at
                                    THEN excluded.container_version ELSE s.container_version END;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS node_classes_rebuild_months ON sessions.node_classes;
DROP FUNCTION IF EXISTS sessions.node_classes_changed();
DROP FUNCTION IF EXISTS sessions.refresh_day_rollups(bigint[], timestamptz[]);
DROP FUNCTION IF EXISTS sessions.refresh_user_months(bigint[], timestamptz[]);
DROP AGGREGATE IF EXISTS sessions.array_cat_agg(anycompatiblearray);
-- CASCADE: the repeatable read helpers (sql/functions/sessions) read these; the migrator
-- re-creates them when the tables come back.
DROP TABLE IF EXISTS sessions.user_months CASCADE;
DROP TABLE IF EXISTS sessions.day_usage CASCADE;
DROP TABLE IF EXISTS sessions.user_days CASCADE;
DROP FUNCTION IF EXISTS sessions.days_of_span(timestamptz, timestamptz) CASCADE;
DROP INDEX IF EXISTS sessions.sessions_user_ended_idx;
DROP INDEX IF EXISTS sessions.sessions_instant_idx;
DROP INDEX IF EXISTS sessions.sessions_started_idx;
