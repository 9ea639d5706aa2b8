-- The bulk insert path of the ingest: one call per remote-write batch, set-based.
CREATE OR REPLACE FUNCTION ingest.write_samples(
    p_times  timestamptz[],
    p_names  text[],
    p_labels jsonb[],
    p_values double precision[])
RETURNS TABLE(received bigint, written bigint, duplicates bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, metrics
-- float8 -> text -> numeric with the shortest exact digits, whatever the session says
SET extra_float_digits = 1
-- A batch's hashes stay in memory. Row estimates for unnest(array parameter) are far
-- too low, so the planner would sort 100k jsonb label sets; hashing is several times
-- faster. Sorts still happen where nothing else can work (DISTINCT ON, windows).
SET work_mem = '64MB'
SET enable_sort = off
-- a write path of many short statements: JIT compilation would cost more than it saves
SET jit = off
AS $$
DECLARE
    v_received bigint := coalesce(cardinality(p_times), 0);
    v_valid    bigint;
    v_written  bigint;
    -- the batch's distinct series
    k_schema text[];
    k_name   text[];
    k_labels jsonb[];
    k_id     bigint[];
    v_key_of bigint[];   -- per sample: its series' position in the k_ arrays
    -- the written samples rolled up per (schema, name, minute), sorted by that key
    m_schema text[];
    m_name   text[];
    m_bucket timestamptz[];
    m_time   timestamptz[];
    m_series bigint[];
    m_value  numeric[];
    m_sum    numeric[];
    m_n      bigint[];
    -- latest written sample per geo series
    g_series bigint[];
    g_time   timestamptz[];
    g_value  numeric[];
BEGIN
    IF coalesce(cardinality(p_names), 0) <> v_received
       OR coalesce(cardinality(p_labels), 0) <> v_received
       OR coalesce(cardinality(p_values), 0) <> v_received THEN
        RAISE EXCEPTION 'write_samples: the four arrays must have the same length (% times, % names, % labels, % values)',
            v_received, coalesce(cardinality(p_names), 0), coalesce(cardinality(p_labels), 0),
            coalesce(cardinality(p_values), 0)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_received = 0 THEN
        RETURN QUERY SELECT 0::bigint, 0::bigint, 0::bigint;
        RETURN;
    END IF;

    PERFORM metrics.ensure_partitions(p_times);

    -- 1. Distinct series of the batch (labels minus the big-number value labels), routed,
    --    and for every sample the number of its series in that list (NULL: invalid sample).
    --    Label sets are compared as text (jsonb's text form is canonical): hashing text is
    --    cheaper than hashing jsonb, and this runs once per sample.
    WITH s AS MATERIALIZED (
        SELECT u.ord, u.n,
               CASE WHEN isfinite(u.t) AND u.n IS NOT NULL
                         AND (u.l IS NULL OR jsonb_typeof(u.l) = 'object')
                    THEN CASE WHEN u.l ?| '{supply,excluded_supply,amount}'
                              THEN (u.l - '{supply,excluded_supply,amount}'::text[])::text
                              ELSE coalesce(u.l, '{}')::text END
               END AS kt
        FROM unnest(p_times, p_names, p_labels) WITH ORDINALITY AS u(t, n, l, ord)
    ), k AS MATERIALIZED (
        -- numbered in (name, labels) order: series are registered and locked in that order
        SELECT d.n, d.kt, row_number() OVER (ORDER BY d.n COLLATE "C", d.kt COLLATE "C") AS key_no
        FROM (SELECT DISTINCT s.n, s.kt FROM s WHERE s.kt IS NOT NULL) AS d
    )
    SELECT (SELECT array_agg(metrics.route_schema(k.n, k.kt::jsonb) ORDER BY k.key_no) FROM k),
           (SELECT array_agg(k.n ORDER BY k.key_no) FROM k),
           (SELECT array_agg(k.kt::jsonb ORDER BY k.key_no) FROM k),
           (SELECT array_agg(k.key_no ORDER BY s.ord)
            FROM s LEFT JOIN k ON k.n = s.n AND k.kt = s.kt)
    INTO k_schema, k_name, k_labels, v_key_of;
    IF k_name IS NULL THEN
        RETURN QUERY SELECT v_received, 0::bigint, 0::bigint;
        RETURN;
    END IF;

    -- 2. Their ids; register the unseen ones. Separate statements, so a series another
    --    batch committed meanwhile is found by the second lookup (READ COMMITTED).
    SELECT array_agg(se.id ORDER BY k.key_no) INTO k_id
    FROM unnest(k_schema, k_name, k_labels) WITH ORDINALITY AS k(schema, name, labels, key_no)
    LEFT JOIN metrics.series AS se
           ON se.schema = k.schema AND se.name = k.name AND se.labels = k.labels;
    IF array_position(k_id, NULL) IS NOT NULL THEN
        INSERT INTO metrics.series (schema, name, labels)
        SELECT k.schema, k.name, k.labels
        FROM unnest(k_schema, k_name, k_labels, k_id) WITH ORDINALITY AS k(schema, name, labels, id, key_no)
        WHERE k.id IS NULL
        ORDER BY k.key_no
        ON CONFLICT DO NOTHING;
        SELECT array_agg(se.id ORDER BY k.key_no) INTO k_id
        FROM unnest(k_schema, k_name, k_labels) WITH ORDINALITY AS k(schema, name, labels, key_no)
        JOIN metrics.series AS se
          ON se.schema = k.schema AND se.name = k.name AND se.labels = k.labels;
    END IF;

    -- 3. Insert the samples exactly once; roll up what was really written.
    WITH keyed AS (
        SELECT k.id AS series_id, k.schema, u.t AS time,
               -- NaN is a Prometheus staleness marker (or no value): never stored, even
               -- when a stale series still carries a supply label.
               CASE WHEN u.v = 'NaN' THEN NULL
                    WHEN u.l ? 'supply' THEN metrics.label_number(u.l ->> 'supply')
                    WHEN u.l ? 'excluded_supply' THEN metrics.label_number(u.l ->> 'excluded_supply')
                    WHEN u.l ? 'amount' THEN metrics.label_number(u.l ->> 'amount')
                    ELSE u.v::text::numeric   -- shortest exact digits; +-Infinity kept
               END AS value
        FROM unnest(p_times, p_labels, p_values, v_key_of) AS u(t, l, v, key_no)
        JOIN unnest(k_id, k_schema) WITH ORDINALITY AS k(id, schema, key_no)
          ON k.key_no = u.key_no
    ), ins AS (
        INSERT INTO metrics.samples AS s (time, series_id, schema, value)
        SELECT time, series_id, schema, value FROM keyed WHERE value IS NOT NULL
        ON CONFLICT DO NOTHING
        RETURNING s.time, s.series_id, s.schema, s.value
    ), named AS (
        SELECT i.time, i.series_id, i.schema, i.value, k.name,
               metrics.floor_to(i.time, interval '1 minute') AS bucket
        FROM ins AS i
        JOIN unnest(k_id, k_name) AS k(id, name) ON k.id = i.series_id
    ), minute_totals AS (
        SELECT schema, name, bucket, max(time) AS time, sum(value) AS sum_value, count(*) AS n
        FROM named
        GROUP BY schema, name, bucket
    ), minute AS (
        -- the last sample of each minute: the greatest (time, series_id)
        SELECT DISTINCT ON (t.schema, t.name, t.bucket)
               t.schema, t.name, t.bucket, t.time, x.series_id, x.value, t.sum_value, t.n
        FROM minute_totals AS t
        JOIN named AS x
          ON x.schema = t.schema AND x.name = t.name AND x.bucket = t.bucket AND x.time = t.time
        ORDER BY t.schema, t.name, t.bucket, x.series_id DESC
    ), geo AS (
        SELECT DISTINCT ON (series_id) series_id, time, value
        FROM ins WHERE schema = 'geo'
        ORDER BY series_id, time DESC
    )
    SELECT (SELECT count(*) FROM keyed WHERE value IS NOT NULL),
           (SELECT count(*) FROM ins),
           m.a1, m.a2, m.a3, m.a4, m.a5, m.a6, m.a7, m.a8, g.a1, g.a2, g.a3
    INTO v_valid, v_written,
         m_schema, m_name, m_bucket, m_time, m_series, m_value, m_sum, m_n,
         g_series, g_time, g_value
    FROM (SELECT array_agg(schema ORDER BY schema, name, bucket) AS a1,
                 array_agg(name ORDER BY schema, name, bucket) AS a2,
                 array_agg(bucket ORDER BY schema, name, bucket) AS a3,
                 array_agg(time ORDER BY schema, name, bucket) AS a4,
                 array_agg(series_id ORDER BY schema, name, bucket) AS a5,
                 array_agg(value ORDER BY schema, name, bucket) AS a6,
                 array_agg(sum_value ORDER BY schema, name, bucket) AS a7,
                 array_agg(n ORDER BY schema, name, bucket) AS a8
          FROM minute) AS m,
         (SELECT array_agg(series_id ORDER BY series_id) AS a1,
                 array_agg(time ORDER BY series_id) AS a2,
                 array_agg(value ORDER BY series_id) AS a3
          FROM geo) AS g;

    IF v_written > 0 THEN
        -- 4. Rollup tiers and latest state. Rows go in key order so concurrent batches
        --    lock them in the same order. A row's "last" moves only to a later
        --    (time, series), so late and out-of-order samples land where they belong.
        INSERT INTO metrics.rollup_1m AS r
               (schema, name, bucket, last_time, last_series, last_value, sum_value, n)
        SELECT * FROM unnest(m_schema, m_name, m_bucket, m_time, m_series, m_value, m_sum, m_n)
        ON CONFLICT (schema, name, bucket) DO UPDATE SET
            last_time   = CASE WHEN (excluded.last_time, excluded.last_series) > (r.last_time, r.last_series)
                               THEN excluded.last_time ELSE r.last_time END,
            last_series = CASE WHEN (excluded.last_time, excluded.last_series) > (r.last_time, r.last_series)
                               THEN excluded.last_series ELSE r.last_series END,
            last_value  = CASE WHEN (excluded.last_time, excluded.last_series) > (r.last_time, r.last_series)
                               THEN excluded.last_value ELSE r.last_value END,
            sum_value   = r.sum_value + excluded.sum_value,
            n           = r.n + excluded.n;

        INSERT INTO metrics.rollup_1h AS r
               (schema, name, bucket, last_time, last_series, last_value, sum_value, n)
        SELECT DISTINCT ON (schema, name, bucket)
               schema, name, bucket, t, s, v, sum(sm) OVER w, (sum(c) OVER w)::bigint
        FROM (SELECT u.schema, u.name, metrics.floor_to(u.b, interval '1 hour') AS bucket,
                     u.t, u.s, u.v, u.sm, u.c
              FROM unnest(m_schema, m_name, m_bucket, m_time, m_series, m_value, m_sum, m_n)
                   AS u(schema, name, b, t, s, v, sm, c)) AS x
        WINDOW w AS (PARTITION BY schema, name, bucket)
        ORDER BY schema, name, bucket, t DESC, s DESC
        ON CONFLICT (schema, name, bucket) DO UPDATE SET
            last_time   = CASE WHEN (excluded.last_time, excluded.last_series) > (r.last_time, r.last_series)
                               THEN excluded.last_time ELSE r.last_time END,
            last_series = CASE WHEN (excluded.last_time, excluded.last_series) > (r.last_time, r.last_series)
                               THEN excluded.last_series ELSE r.last_series END,
            last_value  = CASE WHEN (excluded.last_time, excluded.last_series) > (r.last_time, r.last_series)
                               THEN excluded.last_value ELSE r.last_value END,
            sum_value   = r.sum_value + excluded.sum_value,
            n           = r.n + excluded.n;

        INSERT INTO metrics.rollup_1d AS r
               (schema, name, bucket, last_time, last_series, last_value, sum_value, n)
        SELECT DISTINCT ON (schema, name, bucket)
               schema, name, bucket, t, s, v, sum(sm) OVER w, (sum(c) OVER w)::bigint
        FROM (SELECT u.schema, u.name, metrics.floor_to(u.b, interval '1 day') AS bucket,
                     u.t, u.s, u.v, u.sm, u.c
              FROM unnest(m_schema, m_name, m_bucket, m_time, m_series, m_value, m_sum, m_n)
                   AS u(schema, name, b, t, s, v, sm, c)) AS x
        WINDOW w AS (PARTITION BY schema, name, bucket)
        ORDER BY schema, name, bucket, t DESC, s DESC
        ON CONFLICT (schema, name, bucket) DO UPDATE SET
            last_time   = CASE WHEN (excluded.last_time, excluded.last_series) > (r.last_time, r.last_series)
                               THEN excluded.last_time ELSE r.last_time END,
            last_series = CASE WHEN (excluded.last_time, excluded.last_series) > (r.last_time, r.last_series)
                               THEN excluded.last_series ELSE r.last_series END,
            last_value  = CASE WHEN (excluded.last_time, excluded.last_series) > (r.last_time, r.last_series)
                               THEN excluded.last_value ELSE r.last_value END,
            sum_value   = r.sum_value + excluded.sum_value,
            n           = r.n + excluded.n;

        INSERT INTO metrics.latest_by_name AS l
               (schema, name, last_time, last_series, last_value, total_sum, n)
        SELECT DISTINCT ON (schema, name)
               schema, name, t, s, v, sum(sm) OVER w, (sum(c) OVER w)::bigint
        FROM unnest(m_schema, m_name, m_time, m_series, m_value, m_sum, m_n)
             AS u(schema, name, t, s, v, sm, c)
        WINDOW w AS (PARTITION BY schema, name)
        ORDER BY schema, name, t DESC, s DESC
        ON CONFLICT (schema, name) DO UPDATE SET
            last_time   = CASE WHEN (excluded.last_time, excluded.last_series) > (l.last_time, l.last_series)
                               THEN excluded.last_time ELSE l.last_time END,
            last_series = CASE WHEN (excluded.last_time, excluded.last_series) > (l.last_time, l.last_series)
                               THEN excluded.last_series ELSE l.last_series END,
            last_value  = CASE WHEN (excluded.last_time, excluded.last_series) > (l.last_time, l.last_series)
                               THEN excluded.last_value ELSE l.last_value END,
            total_sum   = l.total_sum + excluded.total_sum,
            n           = l.n + excluded.n;

        INSERT INTO metrics.latest_by_series AS l (series_id, last_time, last_value)
        SELECT * FROM unnest(g_series, g_time, g_value)
        ON CONFLICT (series_id) DO UPDATE
            SET last_time = excluded.last_time, last_value = excluded.last_value
            WHERE excluded.last_time > l.last_time;
    END IF;

    RETURN QUERY SELECT v_received, v_written, v_valid - v_written;
END
$$;

COMMENT ON FUNCTION ingest.write_samples(timestamptz[], text[], jsonb[], double precision[]) IS
$$Writes one batch of Prometheus samples exactly once. Parallel arrays, one element per sample: time, metric name, labels (the full label set minus __name__, a JSON object) and the sample value.
Each sample is routed to a schema by metrics.schema_routes; its series is (schema, name, labels minus supply/excluded_supply/amount); its value is the first present of the labels supply, excluded_supply, amount (a plain decimal number), else the sample value, as exact numeric (+-Infinity kept).
Not stored: samples whose value is NaN (Prometheus staleness markers), a NULL or infinite time, a NULL name, labels that are not an object, or a value label that is not a decimal number.
A sample whose (time, series) is already stored, or repeated in the batch, is a duplicate and changes nothing; so a replayed batch changes nothing.
Rollups (1 minute, 1 hour, 1 day) and latest state are updated in the same transaction.
Returns received (array length), written (newly stored) and duplicates; received - written - duplicates samples were invalid and skipped.$$;
REVOKE ALL ON FUNCTION ingest.write_samples(timestamptz[], text[], jsonb[], double precision[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest.write_samples(timestamptz[], text[], jsonb[], double precision[]) TO writer;
