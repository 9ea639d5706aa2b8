-- Series identity: which schema a series goes to, which labels carry its value, and
-- what a value label must look like. The ingest's decoder (api/ingest/decode.py) keeps
-- the value labels and the decimal rule too, for speed; tests/sql/71_series_identity.sql
-- and tests/unit/test_series_identity.py check that both layers agree.

-- The network schema of each series (same positions as the arrays): the first matching
-- rule of metrics.schema_routes, else 'common'. Set-based, one call per batch.
CREATE OR REPLACE FUNCTION metrics.route_schemas(p_names text[], p_labels jsonb[])
RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, metrics, pg_temp
AS $$
    SELECT array_agg(coalesce((
               SELECT r.target_schema
               FROM metrics.schema_routes AS r
               WHERE (r.metric_name IS NULL OR r.metric_name = u.name)
                 AND (r.label_name IS NULL OR u.labels ->> r.label_name = r.label_value)
               ORDER BY r.priority
               LIMIT 1), 'common') ORDER BY u.i)
    FROM unnest(p_names, p_labels) WITH ORDINALITY AS u(name, labels, i)
$$;

-- One series' schema, by the same rules.
CREATE OR REPLACE FUNCTION metrics.route_schema(p_name text, p_labels jsonb)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, metrics, pg_temp
AS $$
    SELECT (metrics.route_schemas(ARRAY[p_name], ARRAY[p_labels]))[1]
$$;

-- The labels that carry a sample's value as an exact decimal (exporters send token
-- amounts this way: float64 would lose digits), in order of precedence: the first
-- present one is the value, and none of them is part of the series identity.
-- No SET: a constant, inlined where it is used.
CREATE OR REPLACE FUNCTION metrics.value_labels()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN '{supply,excluded_supply,amount}'::text[];

-- A big-number label as numeric, or NULL when it is not a plain decimal number. The
-- exponent is bounded so a hostile label cannot build a gigantic numeric. Not STRICT (a
-- NULL gives NULL through the CASE anyway): PostgreSQL inlines a STRICT function only
-- when it can prove its body strict, which a CASE is not, and this runs once per sample
-- in the ingest. The cases both layers must agree on: tests/sql/label_number_cases.csv.
CREATE OR REPLACE FUNCTION metrics.label_number(p_text text)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN p_text ~ '^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,4})?\s*$'
            THEN p_text::numeric END;

-- The last of two samples, the one with the greatest (time, series); on a tie the other
-- (the stored one) stays. How every rollup row and latest state keeps its "last" when
-- samples arrive late or out of order. No SET, no table: inlined where it is used.
CREATE OR REPLACE FUNCTION metrics.last_sample(
    p_time timestamptz, p_series bigint, p_value numeric,
    p_other_time timestamptz, p_other_series bigint, p_other_value numeric)
RETURNS TABLE(last_time timestamptz, last_series bigint, last_value numeric)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT x.t, x.s, x.v
    FROM (VALUES (p_time, p_series, p_value, 0),
                 (p_other_time, p_other_series, p_other_value, 1)) AS x(t, s, v, other)
    ORDER BY x.t DESC, x.s DESC, x.other DESC
    LIMIT 1
$$;

REVOKE ALL ON FUNCTION metrics.route_schemas(text[], jsonb[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION metrics.route_schema(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION metrics.value_labels() FROM PUBLIC;
REVOKE ALL ON FUNCTION metrics.label_number(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION metrics.last_sample(timestamptz, bigint, numeric, timestamptz, bigint, numeric) FROM PUBLIC;
