-- The write path of exemplars (docs/INGEST.md, "Exemplars"), one call per remote-write
-- request, in the same transaction as that request's samples (api/ingest/remote_write.py).
-- Series are resolved as samples resolve theirs (ingest.write_series_samples): an id the
-- caller got from the samples' write is trusted under the same routing token and name
-- (one primary-key probe), the others go through metrics.resolve_series (routed by
-- metrics.schema_routes, looked up by (schema, name, labels), registered when unseen),
-- so an exemplar lands on the very series its samples landed on.
CREATE OR REPLACE FUNCTION ingest.write_exemplars(
    p_routes  text,                -- metrics.routes_token() the ids were resolved under, or NULL
    p_ids     bigint[],            -- per series: its id from a samples' write, or NULL
    p_names   text[],              -- per series: metric name
    p_labels  text[],              -- per series: labels minus __name__ and the value labels, a JSON object
    p_series  integer[],           -- per exemplar: its series, 1-based position in the arrays above
    p_times   timestamptz[],       -- per exemplar
    p_values  double precision[],  -- per exemplar: its value, as sent
    p_exemplar_labels text[],      -- per exemplar: its own labels (trace_id, ...), a JSON object
    p_now     timestamptz DEFAULT NULL, -- the ingest window's clock; NULL: no window
    p_max_future interval DEFAULT NULL, -- exemplars later than p_now + this are too new
    p_max_new_series integer DEFAULT NULL) -- series this call may register; NULL: no cap
RETURNS TABLE(received bigint, written bigint, duplicates bigint, conflicts bigint,
              too_old bigint, too_new bigint, refused bigint, new_series integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, metrics, pg_temp
SET jit = off
AS $$
DECLARE
    v_received bigint := coalesce(cardinality(p_times), 0);
    v_series   integer := coalesce(cardinality(p_names), 0);
    k_id      bigint[];
    k_schema  text[];
    k_refused boolean[];
    v_new_series integer := 0;
    w_series  bigint[];
    w_time    timestamptz[];
    w_schema  text[];
    w_value   double precision[];
    w_labels  jsonb[];
    v_valid   bigint;
    v_written bigint := 0;
    v_bumped  text[];
    v_conflicts bigint := 0;
    v_too_old bigint := 0;
    v_too_new bigint := 0;
    v_refused bigint := 0;
    v_latest timestamptz := coalesce(p_now + coalesce(p_max_future, interval '0'), 'infinity');
    v_oldest timestamptz := coalesce(p_now - metrics.network_retention(), '-infinity');
BEGIN
    IF coalesce(cardinality(p_series), 0) <> v_received
       OR coalesce(cardinality(p_values), 0) <> v_received
       OR coalesce(cardinality(p_exemplar_labels), 0) <> v_received
       OR coalesce(cardinality(p_labels), 0) <> v_series
       OR (p_ids IS NOT NULL AND cardinality(p_ids) <> v_series) THEN
        RAISE EXCEPTION 'write_exemplars: the arrays must have matching lengths (% names, % labels; % series, % times, % values, % exemplar labels)',
            v_series, coalesce(cardinality(p_labels), 0), coalesce(cardinality(p_series), 0),
            v_received, coalesce(cardinality(p_values), 0), coalesce(cardinality(p_exemplar_labels), 0)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_received = 0 OR v_series = 0 THEN
        RETURN QUERY SELECT v_received, 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint,
                            0::bigint, 0;
        RETURN;
    END IF;

    SELECT r.ids, r.schemas, r.refused, r.created
    INTO k_id, k_schema, k_refused, v_new_series
    FROM metrics.request_series(p_routes, metrics.routes_token(), p_ids, p_names, p_labels,
                                p_max_new_series) AS r;

    -- The exemplars to store, ordered by key (concurrent requests lock rows in the same
    -- order), then as sent (of two at one key the first is stored): one sort feeding
    -- plain aggregates. Counted apart: too new (1), too old (2), of a refused series (3).
    -- A NULL time, an invalid series or labels that are not an object store nothing (4).
    SELECT array_agg(x.series_id) FILTER (WHERE x.why = 0),
           array_agg(x.time) FILTER (WHERE x.why = 0),
           array_agg(x.schema) FILTER (WHERE x.why = 0),
           array_agg(x.value) FILTER (WHERE x.why = 0),
           array_agg(x.labels) FILTER (WHERE x.why = 0),
           count(*) FILTER (WHERE x.why = 1), count(*) FILTER (WHERE x.why = 2),
           count(*) FILTER (WHERE x.why = 3)
    INTO w_series, w_time, w_schema, w_value, w_labels, v_too_new, v_too_old, v_refused
    FROM (SELECT x.*,
                 CASE WHEN x.refused THEN 3
                      WHEN x.series_id IS NULL OR x.time IS NULL OR NOT isfinite(x.time)
                           OR x.value IS NULL OR x.labels IS NULL
                           OR jsonb_typeof(x.labels) <> 'object' THEN 4
                      WHEN x.time > v_latest THEN 1
                      WHEN x.time < v_oldest AND x.schema <> 'cumsum' THEN 2
                      ELSE 0 END AS why
          FROM (SELECT u.o, k.id AS series_id, k.schema, k.refused, u.t AS time, u.v AS value,
                       u.l::jsonb AS labels
                FROM unnest(p_series, p_times, p_values, p_exemplar_labels)
                     WITH ORDINALITY AS u(i, t, v, l, o)
                JOIN unnest(k_id, k_schema, k_refused) WITH ORDINALITY AS k(id, schema, refused, i)
                  ON k.i = u.i
                OFFSET 0) AS x   -- the labels parsed once per exemplar
          ORDER BY x.series_id, x.time, x.o) AS x;
    v_valid := coalesce(cardinality(w_time), 0);

    IF v_valid > 0 THEN
        PERFORM metrics.ensure_partitions_of(ARRAY['exemplars_cumsum', 'exemplars_network'],
                                             w_time);
        WITH ins AS (
            INSERT INTO metrics.exemplars AS e (series_id, time, schema, value, labels)
            SELECT * FROM unnest(w_series, w_time, w_schema, w_value, w_labels)
            ON CONFLICT DO NOTHING
            RETURNING e.schema
        )
        SELECT count(*), array_agg(DISTINCT ins.schema) INTO v_written, v_bumped FROM ins;
        -- the response cache's data versions move with what was really inserted (an exact
        -- replay moves nothing), as the samples' trigger does for theirs
        IF v_written > 0 THEN
            PERFORM metrics.bump_data_versions(v_bumped);
        END IF;
        -- Not inserted: an exact duplicate (stored before, or earlier in this call), or at
        -- a stored (series, time) with another value or labels: a conflicting duplicate,
        -- the stored exemplar stays (as for samples). float8 = treats NaN as equal to NaN,
        -- so a replayed NaN exemplar is a duplicate.
        IF v_written < v_valid THEN
            SELECT count(*) INTO v_conflicts
            FROM unnest(w_series, w_time, w_schema, w_value, w_labels)
                 AS w(series_id, time, schema, value, labels)
            JOIN metrics.exemplars AS e
              ON e.series_id = w.series_id AND e.time = w.time AND e.schema = w.schema
            WHERE e.value <> w.value OR e.labels <> w.labels;
        END IF;
    END IF;

    RETURN QUERY SELECT v_received, v_written, v_valid - v_written - v_conflicts, v_conflicts,
                        v_too_old, v_too_new, v_refused, v_new_series;
END
$$;

COMMENT ON FUNCTION ingest.write_exemplars(text, bigint[], text[], text[], integer[], timestamptz[], double precision[], text[], timestamptz, interval, integer) IS
$$Writes the exemplars of one remote-write request exactly once into metrics.exemplars, given per series (p_names, p_labels: name and labels minus __name__ and the value labels, a JSON object, as for ingest.write_series_samples) and per exemplar (p_series: the 1-based position of its series, p_times, p_values, p_exemplar_labels: its own labels as a JSON object).
Each exemplar's series is resolved as samples resolve theirs: p_ids may carry the ids a samples' write returned (used only while p_routes equals metrics.routes_token() and the id still names a series of that name); the others go through metrics.resolve_series: routed by metrics.schema_routes, looked up, registered when unseen (at most p_max_new_series; the exemplars of the others are refused).
An exemplar whose (series, time) is already stored with the same value and labels, or repeated in the call, is a duplicate and changes nothing; with another value or labels it is a conflicting duplicate (conflicts): the stored exemplar stays.
The ingest window (when p_now is given) is that of samples: later than p_now + p_max_future (too_new), older than p_now - metrics.network_retention() in any schema but cumsum (too_old).
Not stored: exemplars with a NULL or infinite time, a NULL value, labels that are not a JSON object, or of a series without a name.
Returns received (array length), written (newly stored), duplicates (exact ones), conflicts, too_old, too_new, refused (of refused series) and new_series (series registered).$$;
REVOKE ALL ON FUNCTION ingest.write_exemplars(text, bigint[], text[], text[], integer[], timestamptz[], double precision[], text[], timestamptz, interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest.write_exemplars(text, bigint[], text[], text[], integer[], timestamptz[], double precision[], text[], timestamptz, interval, integer) TO writer;
