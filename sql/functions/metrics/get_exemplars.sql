-- The exemplars of a metric over a time range: the trace link behind a chart point.
-- ROWS 10000: a long range over a busy metric can hold many; a declared estimate that
-- large makes the HTTP layer stream the result (api/rpc/plan.py, STREAM_MIN_ROWS).
CREATE OR REPLACE FUNCTION api.get_exemplars(
    p_metric_name text,
    p_schema      text        DEFAULT 'mainnet',
    p_from        timestamptz DEFAULT now() - interval '1 hour',
    p_to          timestamptz DEFAULT now(),
    p_labels      text        DEFAULT '{}')  -- JSON text: a GET query value arrives as text
RETURNS TABLE("timestamp" timestamptz, value text, series_labels jsonb, labels jsonb,
              trace_id text)
LANGUAGE sql STABLE STRICT SECURITY DEFINER
ROWS 10000
SET search_path = pg_catalog, metrics, pg_temp
-- the shortest text that reads back as the same float8, whatever the session says
SET extra_float_digits = 1
SET metrics_rpc.cache_control = 'public, max-age=60, stale-while-revalidate=300'
AS $$
    -- the metric's series (the (schema, name, labels) index), then each one's exemplars
    -- in the range (the (series_id, time) key)
    SELECT e.time, e.value::text, se.labels, e.labels, e.labels ->> 'trace_id'
    FROM metrics.series AS se
    JOIN metrics.exemplars AS e ON e.series_id = se.id AND e.schema = se.schema
    WHERE se.schema = p_schema AND se.name = p_metric_name AND se.labels @> p_labels::jsonb
      AND e.time >= p_from AND e.time < p_to
    ORDER BY e.time, se.id
$$;

COMMENT ON FUNCTION api.get_exemplars(text, text, timestamptz, timestamptz, text) IS
$$Exemplars of metric p_metric_name in schema p_schema (mainnet, testnet, common, cumsum, geo) over [p_from, p_to), oldest first: time, value (as text: NaN and Infinity too), the labels of the series it belongs to (without __name__), its own labels (e.g. trace_id, span_id) and its trace_id label (NULL when it has none).
p_labels (a JSON object as text, default {}) keeps the series whose labels contain it, e.g. {"job": "api"}. The range defaults to the last hour. NULL arguments return no rows.$$;
REVOKE ALL ON FUNCTION api.get_exemplars(text, text, timestamptz, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_exemplars(text, text, timestamptz, timestamptz, text) TO web_anon, writer;
