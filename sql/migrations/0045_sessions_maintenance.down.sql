DROP TRIGGER IF EXISTS observations_apply ON sessions.observations;
DROP FUNCTION IF EXISTS sessions.apply_observations();
