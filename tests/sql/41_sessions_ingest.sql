-- The writer-only ingest function: counts, exactly-once replays, atomic batches, and a
-- clear class-22 error for each kind of bad input.
BEGIN;
\ir _setup.sql
SET LOCAL TimeZone = 'UTC';
SELECT plan(25);

CREATE FUNCTION tests.obs(p_at text, p_email text, p_pod text, p_node text, p_age integer,
                          p_name text DEFAULT NULL)
RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'observed_at', p_at, 'user_email', p_email, 'user_name', p_name, 'pod_name', p_pod,
        'node_name', p_node, 'container_base', 'quay.io/jupyter/scipy-notebook',
        'container_version', '2024-05-27', 'age_seconds', p_age))
$$;
GRANT EXECUTE ON FUNCTION tests.obs(text, text, text, text, integer, text) TO PUBLIC;

SELECT tests.authenticate_as('writer', 'collector');

SELECT is(api.ingest_container_observations(jsonb_build_array(
              tests.obs('2024-03-04T10:05:00Z', 'Ada@Example.org', 'jupyter-ada', 'cpu-1', 300, 'Ada L'),
              tests.obs('2024-03-04T10:10:00Z', 'ada@example.org', 'jupyter-ada', 'cpu-1', 600, 'Ada L'),
              tests.obs('2024-03-04T10:10:00Z', 'bob@example.org', 'jupyter-bob', 'cpu-2', 60)))::jsonb,
          '{"received": 3, "written": 3, "duplicates": 0}'::jsonb,
          'a new batch is written whole');
SELECT is(api.ingest_container_observations(jsonb_build_array(
              tests.obs('2024-03-04T10:10:00Z', 'ada@example.org', 'jupyter-ada', 'cpu-1', 600),
              tests.obs('2024-03-04T10:15:00Z', 'ada@example.org', 'jupyter-ada', 'cpu-1', 900, 'Ada Lovelace')))::jsonb,
          '{"received": 2, "written": 1, "duplicates": 1}'::jsonb,
          'a replayed observation is counted as a duplicate and not written again');
SELECT is(api.ingest_container_observations(jsonb_build_array(
              tests.obs('2024-03-04T10:20:00Z', 'bob@example.org', 'jupyter-bob', 'cpu-2', 660),
              tests.obs('2024-03-04T10:20:00Z', 'bob@example.org', 'jupyter-bob', 'cpu-2', 660)))::jsonb,
          '{"received": 2, "written": 1, "duplicates": 1}'::jsonb,
          'duplicates inside one batch are written once');
SELECT is(api.ingest_container_observations('[]')::jsonb,
          '{"received": 0, "written": 0, "duplicates": 0}'::jsonb,
          'an empty cycle (no running pods) is fine');
SELECT tests.clear_authentication();

SELECT is((SELECT count(*) FROM sessions.observations), 5::bigint, 'five distinct observations stored');
SELECT results_eq($$ SELECT email, name FROM sessions.users ORDER BY email $$,
                  $$ VALUES ('ada@example.org', 'Ada Lovelace'), ('bob@example.org', NULL) $$,
                  'emails are stored lowercased; the newest name wins');
SELECT results_eq($$ SELECT first_seen, last_seen FROM sessions.users WHERE email = 'ada@example.org' $$,
                  $$ VALUES ('2024-03-04 10:05:00+00'::timestamptz, '2024-03-04 10:15:00+00'::timestamptz) $$,
                  'first and last seen follow the observations');
SELECT ok(to_regclass('sessions.observations_p2024_03') IS NOT NULL, 'the month partition was created');

-- Replaying an old batch does not bring back an old name.
SELECT is(api.ingest_container_observations(jsonb_build_array(
              tests.obs('2024-03-04T10:05:00Z', 'ada@example.org', 'jupyter-ada', 'cpu-1', 300, 'Ada L')))::jsonb,
          '{"received": 1, "written": 0, "duplicates": 1}'::jsonb, 'an old batch replayed');
SELECT is((SELECT name FROM sessions.users WHERE email = 'ada@example.org'), 'Ada Lovelace',
          'an older batch does not overwrite a newer name');

-- Bad input: class 22, a message naming the element and field, nothing written.
SELECT tests.authenticate_as('writer', 'collector');
SELECT throws_ok($$ SELECT api.ingest_container_observations('{"observed_at": "x"}') $$,
                 '22023', 'p_observations must be a JSON array of observations', 'an object is not a batch');
SELECT throws_ok($$ SELECT api.ingest_container_observations(NULL) $$,
                 '22023', 'p_observations must be a JSON array of observations', 'null is not a batch');
SELECT throws_ok($$ SELECT api.ingest_container_observations('[1]') $$,
                 '22023', 'p_observations[0]: must be a JSON object', 'elements are objects');
SELECT throws_ok($$ SELECT api.ingest_container_observations(jsonb_build_array(
                        tests.obs('2024-03-04T11:00:00Z', 'ada@example.org', 'jupyter-ada', 'cpu-1', 300),
                        tests.obs('2024-03-04T11:00:00Z', 'ada@example.org', 'jupyter-ada', 'cpu-1', -5))) $$,
                 '22023', 'p_observations[1]: age_seconds must be a non-negative integer',
                 'a negative age is refused, naming the element');
SELECT throws_ok($$ SELECT api.ingest_container_observations(jsonb_build_array(
                        tests.obs('2024-03-04T11:00:00Z', 'ada@example.org', 'jupyter-ada', 'cpu-1', 300)
                        || '{"age_seconds": 1.5}')) $$,
                 '22023', 'p_observations[0]: age_seconds must be a non-negative integer',
                 'a fractional age is refused');
SELECT throws_ok($$ SELECT api.ingest_container_observations(jsonb_build_array(
                        tests.obs('2024-03-04T11:00:00Z', 'ada@example.org', 'jupyter-ada', 'cpu-1', 300)
                        || '{"age_seconds": "300"}')) $$,
                 '22023', 'p_observations[0]: age_seconds must be a non-negative integer',
                 'an age given as a string is refused');
SELECT throws_ok($$ SELECT api.ingest_container_observations(jsonb_build_array(
                        tests.obs('2024-03-04T11:00:00', 'ada@example.org', 'jupyter-ada', 'cpu-1', 300))) $$,
                 '22023', 'p_observations[0]: observed_at must be an ISO 8601 timestamp with a UTC offset',
                 'a timestamp without offset is ambiguous and refused');
SELECT throws_ok($$ SELECT api.ingest_container_observations(jsonb_build_array(
                        tests.obs('2024-02-30T11:00:00Z', 'ada@example.org', 'jupyter-ada', 'cpu-1', 300))) $$,
                 '22007', 'p_observations: observed_at is not a valid timestamp (date/time field value out of range: "2024-02-30T11:00:00Z")',
                 'an impossible date is refused');
SELECT throws_ok($$ SELECT api.ingest_container_observations(jsonb_build_array(
                        tests.obs('2024-03-04T11:00:00Z', ' ', 'jupyter-ada', 'cpu-1', 300))) $$,
                 '22023', 'p_observations[0]: user_email must be a non-empty string (at most 320 characters)',
                 'a blank email is refused');
SELECT throws_ok($$ SELECT api.ingest_container_observations(jsonb_build_array(
                        tests.obs('2024-03-04T11:00:00Z', 'ada@example.org', 'jupyter-ada', 'cpu-1', 300)
                        - 'node_name')) $$,
                 '22023', 'p_observations[0]: node_name must be a non-empty string (at most 253 characters)',
                 'a missing node is refused');
SELECT throws_ok($$ SELECT api.ingest_container_observations(jsonb_build_array(
                        tests.obs('2024-03-04T11:00:00Z', 'ada@example.org', 'jupyter-ada', 'cpu-1', 300)
                        || '{"age": 300}')) $$,
                 '22023', 'p_observations[0]: has unknown field age', 'a misspelt field is refused');
SELECT throws_ok(format($$ SELECT api.ingest_container_observations(jsonb_build_array(
                        tests.obs(%L, 'ada@example.org', 'jupyter-ada', 'cpu-1', 300))) $$,
                        to_char(now() + interval '1 day', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
                 '22023', NULL, 'an observation from the future is refused');
SELECT tests.clear_authentication();
SELECT is((SELECT count(*) FROM sessions.observations), 5::bigint,
          'a refused batch wrote nothing, not even its valid elements');

-- The version is optional and defaults to latest.
SELECT is(api.ingest_container_observations(jsonb_build_array(
              tests.obs('2024-03-05T09:00:00Z', 'cy@example.org', 'jupyter-cy', 'cpu-1', 120)
              - 'container_version'))::jsonb ->> 'written', '1', 'the version is optional');
SELECT is((SELECT container_version FROM sessions.observations o JOIN sessions.users u USING (user_id)
            WHERE u.email = 'cy@example.org'), 'latest', 'a missing version is stored as latest');

SELECT * FROM finish();
ROLLBACK;
