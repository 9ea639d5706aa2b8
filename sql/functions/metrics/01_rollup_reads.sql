-- Reading rollups for a time range: the building blocks of every API read function.
-- Ranges are resolved at the one-minute grain of the rollups: a minute belongs to
-- [p_from, p_to) when its start does.

-- The rollup rows of metrics p_names in p_schema covering [p_from, p_to), each from the
-- coarsest tier (up to p_tier) whose rows fit entirely in the range: days in the middle,
-- hours and minutes at the ragged edges. The rows are disjoint in time, so callers can
-- merge them into any buckets that the p_tier rows nest in.
CREATE OR REPLACE FUNCTION metrics.rollup_rows(
    p_schema text, p_names text[], p_from timestamptz, p_to timestamptz, p_tier text)
RETURNS TABLE(name text, bucket timestamptz, last_time timestamptz, last_series bigint,
              last_value numeric, sum_value numeric, n bigint)
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, metrics, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_a timestamptz := metrics.ceil_to(p_from, interval '1 minute');
    v_b timestamptz := metrics.ceil_to(p_to, interval '1 minute');
    -- [lo, hi) per segment; empty (lo = hi) unless set below
    m1_hi timestamptz; h1_lo timestamptz; h1_hi timestamptz; d_lo timestamptz;
    d_hi timestamptz; h2_lo timestamptz; h2_hi timestamptz; m2_lo timestamptz;
BEGIN
    IF v_a >= v_b THEN
        RETURN;
    END IF;
    m1_hi := v_b; h1_lo := v_b; h1_hi := v_b; d_lo := v_b; d_hi := v_b;
    h2_lo := v_b; h2_hi := v_b; m2_lo := v_b;
    IF p_tier IN ('hour', 'day') THEN
        h1_lo := metrics.ceil_to(v_a, interval '1 hour');
        h2_hi := metrics.floor_to(v_b, interval '1 hour');
        IF h1_lo < h2_hi THEN
            m1_hi := h1_lo; m2_lo := h2_hi;
            h1_hi := h2_hi;             -- one run of hours [h1_lo, h2_hi) ...
            h2_lo := h2_hi;
            IF p_tier = 'day' THEN
                d_lo := metrics.ceil_to(h1_lo, interval '1 day');
                d_hi := metrics.floor_to(h2_hi, interval '1 day');
                IF d_lo < d_hi THEN     -- ... or hours, days, hours
                    h1_hi := d_lo; h2_lo := d_hi;
                ELSE
                    d_lo := v_b; d_hi := v_b;
                END IF;
            END IF;
        ELSE
            h1_lo := v_b; h2_hi := v_b;
        END IF;
    END IF;

    RETURN QUERY
    SELECT r.name, r.bucket, r.last_time, r.last_series, r.last_value, r.sum_value, r.n
    FROM metrics.rollup_1m AS r
    WHERE r.schema = p_schema AND r.name = ANY (p_names)
      AND r.bucket >= v_a AND r.bucket < m1_hi
    UNION ALL
    SELECT r.name, r.bucket, r.last_time, r.last_series, r.last_value, r.sum_value, r.n
    FROM metrics.rollup_1h AS r
    WHERE r.schema = p_schema AND r.name = ANY (p_names)
      AND r.bucket >= h1_lo AND r.bucket < h1_hi
    UNION ALL
    SELECT r.name, r.bucket, r.last_time, r.last_series, r.last_value, r.sum_value, r.n
    FROM metrics.rollup_1d AS r
    WHERE r.schema = p_schema AND r.name = ANY (p_names)
      AND r.bucket >= d_lo AND r.bucket < d_hi
    UNION ALL
    SELECT r.name, r.bucket, r.last_time, r.last_series, r.last_value, r.sum_value, r.n
    FROM metrics.rollup_1h AS r
    WHERE r.schema = p_schema AND r.name = ANY (p_names)
      AND r.bucket >= h2_lo AND r.bucket < h2_hi
    UNION ALL
    SELECT r.name, r.bucket, r.last_time, r.last_series, r.last_value, r.sum_value, r.n
    FROM metrics.rollup_1m AS r
    WHERE r.schema = p_schema AND r.name = ANY (p_names)
      AND r.bucket >= m2_lo AND r.bucket < v_b;
END
$$;

-- Sum of every sample of p_name in p_schema before p_before (the base of a running
-- total): whole days, then hours, then minutes up to the minute p_before rounds up to.
-- plpgsql so each statement is planned with the bounds known: the minute rollups are
-- partitioned by month, and a plan for all partitions (bounds unknown at plan time)
-- costs enough to trigger JIT compilation, ~100 ms for a sub-millisecond sum.
CREATE OR REPLACE FUNCTION metrics.sum_before(p_schema text, p_name text, p_before timestamptz)
RETURNS numeric
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, metrics, pg_temp
AS $$
DECLARE
    v_minute timestamptz := metrics.ceil_to(p_before, interval '1 minute');
    v_hour   timestamptz := metrics.floor_to(v_minute, interval '1 hour');
    v_day    timestamptz := metrics.floor_to(v_minute, interval '1 day');
    v_days    numeric;
    v_hours   numeric;
    v_minutes numeric;
BEGIN
    SELECT sum(r.sum_value) INTO v_days FROM metrics.rollup_1d AS r
     WHERE r.schema = p_schema AND r.name = p_name AND r.bucket < v_day;
    SELECT sum(r.sum_value) INTO v_hours FROM metrics.rollup_1h AS r
     WHERE r.schema = p_schema AND r.name = p_name AND r.bucket >= v_day AND r.bucket < v_hour;
    SELECT sum(r.sum_value) INTO v_minutes FROM metrics.rollup_1m AS r
     WHERE r.schema = p_schema AND r.name = p_name AND r.bucket >= v_hour AND r.bucket < v_minute;
    RETURN coalesce(v_days, 0) + coalesce(v_hours, 0) + coalesce(v_minutes, 0);
END
$$;

-- The last value of p_name in p_schema before p_before (for carrying a value forward
-- into a range), or NULL when there is none.
CREATE OR REPLACE FUNCTION metrics.last_value_before(p_schema text, p_name text, p_before timestamptz)
RETURNS numeric
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, metrics, pg_temp
AS $$
DECLARE
    v_before timestamptz := metrics.ceil_to(p_before, interval '1 minute');
    v_latest metrics.latest_by_name;
    v_value  numeric;
BEGIN
    SELECT * INTO v_latest FROM metrics.latest_by_name AS l
    WHERE l.schema = p_schema AND l.name = p_name;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- Usual case for ranges ending now: nothing newer than the range start at all.
    IF v_latest.last_time < v_before THEN
        RETURN v_latest.last_value;
    END IF;
    -- Otherwise the newest minute before the range: an index scan backwards.
    SELECT r.last_value INTO v_value
    FROM metrics.rollup_1m AS r
    WHERE r.schema = p_schema AND r.name = p_name AND r.bucket < v_before
    ORDER BY r.bucket DESC
    LIMIT 1;
    RETURN v_value;
END
$$;

REVOKE ALL ON FUNCTION metrics.rollup_rows(text, text[], timestamptz, timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION metrics.sum_before(text, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION metrics.last_value_before(text, text, timestamptz) FROM PUBLIC;
