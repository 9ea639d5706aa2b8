DROP FUNCTION IF EXISTS sessions.ensure_observation_partitions(timestamptz, timestamptz);
DROP TABLE IF EXISTS sessions.observations;
