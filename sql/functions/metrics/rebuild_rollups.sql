-- The rollup tiers and latest state rebuilt from the raw samples, for a bulk load that
-- bypassed the ingest (a COPY into metrics.samples: the benchmark dataset, a repair).
-- Same result as writing those samples through ingest.write_samples: bench/dataset_check
-- and tests/sql/72_rebuild_rollups.sql compare the two.
CREATE OR REPLACE FUNCTION metrics.rebuild_rollups(p_from timestamptz, p_to timestamptz)
RETURNS TABLE(rollup_1m bigint, rollup_1h bigint, rollup_1d bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, metrics, pg_temp
SET work_mem = '256MB'
SET jit = off
AS $$
DECLARE
    -- whole UTC days, so every hour and day bucket of the range is rebuilt complete
    v_from timestamptz := metrics.floor_to(p_from, interval '1 day');
    v_to   timestamptz := metrics.ceil_to(p_to, interval '1 day');
    v_lo   timestamptz;
    v_hi   timestamptz;
    v_1m   bigint := 0;
    v_1h   bigint;
    v_1d   bigint;
    v_n    bigint;
BEGIN
    IF p_from IS NULL OR p_to IS NULL OR NOT isfinite(p_from) OR NOT isfinite(p_to)
       OR p_from >= p_to THEN
        RAISE EXCEPTION 'rebuild_rollups: need a finite range with from < to (got % .. %)',
            p_from, p_to USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM metrics.rollup_1m AS r WHERE r.bucket >= v_from AND r.bucket < v_to;
    DELETE FROM metrics.rollup_1h AS r WHERE r.bucket >= v_from AND r.bucket < v_to;
    DELETE FROM metrics.rollup_1d AS r WHERE r.bucket >= v_from AND r.bucket < v_to;

    -- Minutes from the samples, a month (one partition) at a time. "last" is the greatest
    -- (time, series), as metrics.last_sample keeps it.
    v_lo := v_from;
    WHILE v_lo < v_to LOOP
        v_hi := least(v_to, date_trunc('month', v_lo, 'UTC') + interval '1 month');
        PERFORM metrics.ensure_partitions(ARRAY[v_lo]);
        INSERT INTO metrics.rollup_1m AS r
               (schema, name, bucket, last_time, last_series, last_value, sum_value, n)
        SELECT DISTINCT ON (b, s.schema, se.name)
               s.schema, se.name, metrics.floor_to(s.time, interval '1 minute') AS b,
               s.time, s.series_id, s.value, sum(s.value) OVER w, count(*) OVER w
        FROM metrics.samples AS s
        JOIN metrics.series AS se ON se.id = s.series_id
        WHERE s.time >= v_lo AND s.time < v_hi
          AND abs(s.value) < 'Infinity'::numeric   -- NaN, +-Infinity are never rolled up
        WINDOW w AS (PARTITION BY metrics.floor_to(s.time, interval '1 minute'), s.schema, se.name)
        ORDER BY b, s.schema, se.name, s.time DESC, s.series_id DESC;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_1m := v_1m + v_n;
        v_lo := v_hi;
    END LOOP;

    -- Hours from minutes and days from hours, as the ingest folds them.
    INSERT INTO metrics.rollup_1h AS r
           (schema, name, bucket, last_time, last_series, last_value, sum_value, n)
    SELECT DISTINCT ON (b, x.schema, x.name)
           x.schema, x.name, b, x.last_time, x.last_series, x.last_value,
           sum(x.sum_value) OVER w, (sum(x.n) OVER w)::bigint
    FROM (SELECT m.*, metrics.floor_to(m.bucket, interval '1 hour') AS b
          FROM metrics.rollup_1m AS m
          WHERE m.bucket >= v_from AND m.bucket < v_to) AS x
    WINDOW w AS (PARTITION BY b, x.schema, x.name)
    ORDER BY b, x.schema, x.name, x.last_time DESC, x.last_series DESC;
    GET DIAGNOSTICS v_1h = ROW_COUNT;

    INSERT INTO metrics.rollup_1d AS r
           (schema, name, bucket, last_time, last_series, last_value, sum_value, n)
    SELECT DISTINCT ON (b, x.schema, x.name)
           x.schema, x.name, b, x.last_time, x.last_series, x.last_value,
           sum(x.sum_value) OVER w, (sum(x.n) OVER w)::bigint
    FROM (SELECT h.*, metrics.floor_to(h.bucket, interval '1 day') AS b
          FROM metrics.rollup_1h AS h
          WHERE h.bucket >= v_from AND h.bucket < v_to) AS x
    WINDOW w AS (PARTITION BY b, x.schema, x.name)
    ORDER BY b, x.schema, x.name, x.last_time DESC, x.last_series DESC;
    GET DIAGNOSTICS v_1d = ROW_COUNT;

    -- Latest per name: recomputed whole from the day tier (small: one row per name and day).
    INSERT INTO metrics.latest_by_name AS l
           (schema, name, last_time, last_series, last_value, total_sum, n)
    SELECT DISTINCT ON (d.schema, d.name)
           d.schema, d.name, d.last_time, d.last_series, d.last_value,
           sum(d.sum_value) OVER w, (sum(d.n) OVER w)::bigint
    FROM metrics.rollup_1d AS d
    WINDOW w AS (PARTITION BY d.schema, d.name)
    ORDER BY d.schema, d.name, d.last_time DESC, d.last_series DESC
    ON CONFLICT (schema, name) DO UPDATE SET
        last_time = excluded.last_time, last_series = excluded.last_series,
        last_value = excluded.last_value, total_sum = excluded.total_sum, n = excluded.n;

    -- Latest per geo series: its last sample of the range, when later than the stored one.
    INSERT INTO metrics.latest_by_series AS l (series_id, last_time, last_value)
    SELECT s.series_id, s.time, s.value
    FROM (SELECT g.series_id, max(g.time) AS time
          FROM metrics.samples AS g
          WHERE g.schema = 'geo' AND g.time >= v_from AND g.time < v_to
            AND abs(g.value) < 'Infinity'::numeric
          GROUP BY g.series_id) AS m
    JOIN metrics.samples AS s
      ON s.time = m.time AND s.series_id = m.series_id AND s.schema = 'geo'
    ON CONFLICT (series_id) DO UPDATE
        SET last_time = excluded.last_time, last_value = excluded.last_value
        WHERE excluded.last_time > l.last_time;

    RETURN QUERY SELECT v_1m, v_1h, v_1d;
END
$$;

COMMENT ON FUNCTION metrics.rebuild_rollups(timestamptz, timestamptz) IS
$$Rebuilds the rollup tiers (rollup_1m, rollup_1h, rollup_1d) from metrics.samples for the whole UTC days that p_from .. p_to touch: their rows are deleted and built anew, with the semantics of ingest.write_samples ("last" = greatest (time, series), plus sum and count, finite values only). Then latest_by_name is recomputed from the day tier, and latest_by_series moves to a geo series' last sample of the range when that is later. For bulk loads that bypass the ingest (COPY into metrics.samples). Returns the rows written per tier.$$;
REVOKE ALL ON FUNCTION metrics.rebuild_rollups(timestamptz, timestamptz) FROM PUBLIC;
