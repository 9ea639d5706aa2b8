-- The network schema of a series: the first matching rule of metrics.schema_routes.
CREATE OR REPLACE FUNCTION metrics.route_schema(p_name text, p_labels jsonb)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, metrics, pg_temp
AS $$
    SELECT coalesce((
        SELECT r.target_schema
        FROM metrics.schema_routes AS r
        WHERE (r.metric_name IS NULL OR r.metric_name = p_name)
          AND (r.label_name IS NULL OR p_labels ->> r.label_name = r.label_value)
        ORDER BY r.priority
        LIMIT 1), 'common')
$$;

-- A big-number label as numeric, or NULL when it is not a plain decimal number. The
-- exponent is bounded so a hostile label cannot build a gigantic numeric. Not STRICT (a
-- NULL gives NULL through the CASE anyway): PostgreSQL inlines a STRICT function only
-- when it can prove its body strict, which a CASE is not, and this runs once per sample
-- in the ingest.
CREATE OR REPLACE FUNCTION metrics.label_number(p_text text)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN p_text ~ '^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,4})?\s*$'
            THEN p_text::numeric END;

REVOKE ALL ON FUNCTION metrics.route_schema(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION metrics.label_number(text) FROM PUBLIC;
