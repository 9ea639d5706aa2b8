-- Writer-only entry point of the JupyterHub collector: one call per collection cycle.
-- The whole batch is validated first, then written in the caller's transaction, so a
-- batch is either fully applied or not at all; replaying it writes nothing new.
CREATE OR REPLACE FUNCTION api.ingest_container_observations(p_observations jsonb)
RETURNS json
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c_fields   CONSTANT text[] := ARRAY['observed_at', 'user_email', 'user_name', 'pod_name',
                                        'node_name', 'container_base', 'container_version',
                                        'age_seconds'];
    c_hint     CONSTANT text := 'Each observation: {"observed_at": ISO 8601 with offset, '
                                '"user_email", "user_name" (optional), "pod_name", "node_name", '
                                '"container_base", "container_version" (optional, default latest), '
                                '"age_seconds": integer >= 0}';
    v_received integer;
    v_written  integer;
    v_bad      record;
    v_first    timestamptz;
    v_last     timestamptz;
BEGIN
    IF p_observations IS NULL OR jsonb_typeof(p_observations) <> 'array' THEN
        RAISE EXCEPTION 'p_observations must be a JSON array of observations'
            USING ERRCODE = '22023', HINT = c_hint;
    END IF;
    v_received := jsonb_array_length(p_observations);
    IF v_received > 50000 THEN
        RAISE EXCEPTION 'p_observations holds % observations; at most 50000 per call', v_received
            USING ERRCODE = '22023';
    END IF;

    -- First offending element, if any, with a message naming its index and field.
    SELECT e.idx - 1 AS idx, e.problem INTO v_bad
      FROM (SELECT t.idx,
                   CASE
                       WHEN jsonb_typeof(t.o) <> 'object' THEN 'must be a JSON object'
                       WHEN EXISTS (SELECT FROM jsonb_object_keys(t.o) k WHERE k <> ALL (c_fields))
                           THEN format('has unknown field %s',
                                       (SELECT string_agg(quote_ident(k), ', ') FROM jsonb_object_keys(t.o) k
                                         WHERE k <> ALL (c_fields)))
                       WHEN jsonb_typeof(t.o -> 'observed_at') IS DISTINCT FROM 'string'
                         OR (t.o ->> 'observed_at') !~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|z|[+-]\d{2}(:?\d{2})?)$'
                           THEN 'observed_at must be an ISO 8601 timestamp with a UTC offset'
                       WHEN jsonb_typeof(t.o -> 'user_email') IS DISTINCT FROM 'string'
                         OR btrim(t.o ->> 'user_email') = '' OR length(t.o ->> 'user_email') > 320
                           THEN 'user_email must be a non-empty string (at most 320 characters)'
                       WHEN jsonb_typeof(t.o -> 'user_name') NOT IN ('string', 'null')
                         OR length(t.o ->> 'user_name') > 512
                           THEN 'user_name must be a string (at most 512 characters) or null'
                       WHEN jsonb_typeof(t.o -> 'pod_name') IS DISTINCT FROM 'string'
                         OR btrim(t.o ->> 'pod_name') = '' OR length(t.o ->> 'pod_name') > 253
                           THEN 'pod_name must be a non-empty string (at most 253 characters)'
                       WHEN jsonb_typeof(t.o -> 'node_name') IS DISTINCT FROM 'string'
                         OR btrim(t.o ->> 'node_name') = '' OR length(t.o ->> 'node_name') > 253
                           THEN 'node_name must be a non-empty string (at most 253 characters)'
                       WHEN jsonb_typeof(t.o -> 'container_base') IS DISTINCT FROM 'string'
                         OR btrim(t.o ->> 'container_base') = '' OR length(t.o ->> 'container_base') > 1024
                           THEN 'container_base must be a non-empty string (at most 1024 characters)'
                       WHEN jsonb_typeof(t.o -> 'container_version') NOT IN ('string', 'null')
                         OR btrim(t.o ->> 'container_version') = '' OR length(t.o ->> 'container_version') > 1024
                           THEN 'container_version must be a non-empty string (at most 1024 characters) or null'
                       WHEN jsonb_typeof(t.o -> 'age_seconds') IS DISTINCT FROM 'number'
                           THEN 'age_seconds must be a non-negative integer'
                       -- Only numbers get here, so the casts below cannot fail.
                       WHEN (t.o ->> 'age_seconds')::numeric < 0
                         OR (t.o ->> 'age_seconds')::numeric > 2147483647
                         OR (t.o ->> 'age_seconds')::numeric <> trunc((t.o ->> 'age_seconds')::numeric)
                           THEN 'age_seconds must be a non-negative integer'
                   END AS problem
              FROM jsonb_array_elements(p_observations) WITH ORDINALITY AS t(o, idx)) e
     WHERE e.problem IS NOT NULL
     ORDER BY e.idx
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'p_observations[%]: %', v_bad.idx, v_bad.problem
            USING ERRCODE = '22023', HINT = c_hint;
    END IF;

    BEGIN
        SELECT min((o ->> 'observed_at')::timestamptz), max((o ->> 'observed_at')::timestamptz)
          INTO v_first, v_last
          FROM jsonb_array_elements(p_observations) o;
    EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
        RAISE EXCEPTION 'p_observations: observed_at is not a valid timestamp (%)', SQLERRM
            USING ERRCODE = '22007', HINT = c_hint;
    END;
    IF v_last > now() + interval '10 minutes' THEN
        RAISE EXCEPTION 'p_observations: observed_at % is in the future', v_last
            USING ERRCODE = '22023', HINT = 'Check the collector''s clock.';
    END IF;
    IF v_received = 0 THEN
        RETURN json_build_object('received', 0, 'written', 0, 'duplicates', 0);
    END IF;

    -- Users: new ones are created; a name is updated only by data at least as new as
    -- what we have, so replaying an old batch does not bring back an old name.
    WITH batch AS (
        SELECT lower(btrim(o ->> 'user_email')) AS email,
               nullif(btrim(o ->> 'user_name'), '') AS name,
               (o ->> 'observed_at')::timestamptz AS observed_at
          FROM jsonb_array_elements(p_observations) o
    ), latest AS (
        SELECT b.email,
               (array_agg(b.name ORDER BY b.observed_at DESC) FILTER (WHERE b.name IS NOT NULL))[1] AS name,
               max(b.observed_at) AS observed_at
          FROM batch b
         GROUP BY b.email
    ), renamed AS (
        UPDATE sessions.users u
           SET name = l.name
          FROM latest l
         WHERE u.email = l.email
           AND l.name IS NOT NULL
           AND l.name IS DISTINCT FROM u.name
           AND (u.last_seen IS NULL OR l.observed_at >= u.last_seen)
    )
    INSERT INTO sessions.users (email, name)
    SELECT l.email, l.name FROM latest l ORDER BY l.email
    ON CONFLICT (email) DO NOTHING;

    PERFORM sessions.ensure_observation_partitions(v_first, v_last);

    INSERT INTO sessions.observations (
        observed_at, user_id, pod_name, node_name, container_base, container_version, age_seconds)
    SELECT (o ->> 'observed_at')::timestamptz,
           u.user_id,
           btrim(o ->> 'pod_name'),
           btrim(o ->> 'node_name'),
           btrim(o ->> 'container_base'),
           coalesce(btrim(o ->> 'container_version'), 'latest'),
           (o ->> 'age_seconds')::numeric::integer
      FROM jsonb_array_elements(p_observations) o
      JOIN sessions.users u ON u.email = lower(btrim(o ->> 'user_email'))
    ON CONFLICT (user_id, pod_name, observed_at) DO NOTHING;
    GET DIAGNOSTICS v_written = ROW_COUNT;

    RETURN json_build_object('received', v_received, 'written', v_written,
                             'duplicates', v_received - v_written);
END
$$;

COMMENT ON FUNCTION api.ingest_container_observations(jsonb) IS
    'Writer only: store one collection cycle of JupyterHub container observations atomically. '
    'p_observations is an array of {observed_at, user_email, user_name, pod_name, node_name, '
    'container_base, container_version, age_seconds}; exactly once per (user, pod, observed_at). '
    'Returns {"received": n, "written": m, "duplicates": n - m}; bad input raises 22023/22007.';
REVOKE ALL ON FUNCTION api.ingest_container_observations(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.ingest_container_observations(jsonb) TO writer;
