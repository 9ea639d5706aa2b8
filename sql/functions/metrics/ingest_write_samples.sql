-- The write path of the ingest, set-based, one call per remote-write batch.
--
-- ingest.write_series_samples is the core: series-level arrays (one element per distinct
-- series of the batch) plus sample-level arrays that point into them, as the HTTP decoder
-- builds them once per series. Known series come with the id a previous call returned,
-- so the usual batch (every series seen before) costs one primary-key probe per series
-- and no JSON work at all. ingest.write_samples (four per-sample arrays, jsonb labels)
-- is the original contract, kept for SQL callers: it derives those arrays and calls it.

-- The routing rules' fingerprint: ids a caller got under one set of rules are only
-- trusted while the rules are the same (a changed rule routes the next batch anew).
CREATE OR REPLACE FUNCTION metrics.routes_token()
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, metrics, pg_temp
AS $$
    SELECT md5(coalesce(string_agg(r::text, ',' ORDER BY r.priority), ''))
    FROM metrics.schema_routes AS r
$$;
REVOKE ALL ON FUNCTION metrics.routes_token() FROM PUBLIC;

-- Series ids of a batch's series given by (name, labels JSON text), for the positions
-- p_ids leaves NULL: routed by metrics.schema_routes, looked up, the unseen ones
-- registered (in (name, labels) order, so concurrent batches lock them in the same
-- order). Separate statements, so a series another batch committed meanwhile is found by
-- the second lookup (READ COMMITTED). Positions with an id keep it (and p_schemas' schema).
-- At most p_max_new series are registered (NULL: no cap); the others are refused (their
-- id stays NULL, refused is true), unless another batch registered them meanwhile.
DROP FUNCTION IF EXISTS metrics.resolve_series(text[], text[], bigint[], text[]);
CREATE OR REPLACE FUNCTION metrics.resolve_series(
    p_names text[], p_labels text[], p_ids bigint[], p_schemas text[], p_max_new integer)
RETURNS TABLE(ids bigint[], schemas text[], refused boolean[], created integer)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, metrics, pg_temp
AS $$
DECLARE
    u_ord     bigint[];
    u_schema  text[];
    u_name    text[];
    u_labels  jsonb[];
    u_id      bigint[];
    v_created integer := 0;
BEGIN
    WITH k AS MATERIALIZED (
        SELECT k.ord, k.name, k.labels::jsonb AS labels
        FROM unnest(p_names, p_labels, p_ids) WITH ORDINALITY AS k(name, labels, id, ord)
        WHERE k.id IS NULL AND k.name IS NOT NULL AND k.labels IS NOT NULL
    ), valid AS (
        SELECT array_agg(k.ord ORDER BY k.ord) AS ords, array_agg(k.name ORDER BY k.ord) AS names,
               array_agg(k.labels ORDER BY k.ord) AS labels
        FROM k
        WHERE jsonb_typeof(k.labels) = 'object'
    ), routed AS (
        SELECT r.ord, r.name, r.labels, r.schema
        FROM valid AS v,
             unnest(v.ords, v.names, v.labels, metrics.route_schemas(v.names, v.labels))
                 AS r(ord, name, labels, schema)
    )
    SELECT array_agg(r.ord), array_agg(r.schema), array_agg(r.name), array_agg(r.labels),
           array_agg(se.id)
    INTO u_ord, u_schema, u_name, u_labels, u_id
    FROM routed AS r
    LEFT JOIN metrics.series AS se
           ON se.schema = r.schema AND se.name = r.name AND se.labels = r.labels;

    IF array_position(u_id, NULL) IS NOT NULL AND coalesce(p_max_new, 1) > 0 THEN
        WITH ins AS (
            INSERT INTO metrics.series (schema, name, labels)
            SELECT d.schema, d.name, d.labels
            FROM (SELECT DISTINCT u.schema, u.name, u.labels
                  FROM unnest(u_schema, u_name, u_labels, u_id) AS u(schema, name, labels, id)
                  WHERE u.id IS NULL) AS d
            ORDER BY d.name COLLATE "C", d.labels::text COLLATE "C", d.schema COLLATE "C"
            LIMIT p_max_new
            ON CONFLICT DO NOTHING
            RETURNING 1
        )
        SELECT count(*) INTO v_created FROM ins;
    END IF;
    IF array_position(u_id, NULL) IS NOT NULL THEN
        SELECT array_agg(se.id ORDER BY u.i) INTO u_id
        FROM unnest(u_schema, u_name, u_labels) WITH ORDINALITY AS u(schema, name, labels, i)
        LEFT JOIN metrics.series AS se
               ON se.schema = u.schema AND se.name = u.name AND se.labels = u.labels;
    END IF;

    RETURN QUERY
    SELECT array_agg(coalesce(u.id, k.id) ORDER BY n.i),
           array_agg(CASE WHEN u.id IS NOT NULL THEN u.schema ELSE k.schema END ORDER BY n.i),
           array_agg(u.i IS NOT NULL AND u.id IS NULL ORDER BY n.i),
           v_created
    FROM generate_series(1, coalesce(cardinality(p_names), 0)) AS n(i)
    LEFT JOIN unnest(p_ids, p_schemas) WITH ORDINALITY AS k(id, schema, i) ON k.i = n.i
    LEFT JOIN unnest(u_ord, u_id, u_schema) AS u(i, id, schema) ON u.i = n.i;
END
$$;
REVOKE ALL ON FUNCTION metrics.resolve_series(text[], text[], bigint[], text[], integer) FROM PUBLIC;

-- The series of a write request (ingest.write_series_samples, ingest.write_exemplars):
-- 1. those the caller knows by id (returned by an earlier write): one primary-key probe
--    each, and only while the routing rules are those the ids were resolved under
--    (p_routes = p_current_routes, metrics.routes_token()). The name must match too, so an
--    id that is not (or no longer) that series is resolved by its labels;
-- 2. the others by their labels (metrics.resolve_series: routed, looked up, the unseen
--    ones registered within p_max_new). refused is NULL and created 0 when step 1 knew
--    them all.
CREATE OR REPLACE FUNCTION metrics.request_series(
    p_routes text, p_current_routes text, p_ids bigint[], p_names text[], p_labels text[],
    p_max_new integer)
RETURNS TABLE(ids bigint[], schemas text[], refused boolean[], created integer)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, metrics, pg_temp
AS $$
DECLARE
    k_id     bigint[];
    k_schema text[];
BEGIN
    IF p_routes = p_current_routes AND p_ids IS NOT NULL THEN
        SELECT array_agg(se.id ORDER BY k.ord), array_agg(se.schema ORDER BY k.ord)
        INTO k_id, k_schema
        FROM unnest(p_ids, p_names) WITH ORDINALITY AS k(id, name, ord)
        -- = ANY: only those rows, whatever join the planner picks (never all series)
        LEFT JOIN (SELECT s.id, s.name, s.schema FROM metrics.series AS s
                   WHERE s.id = ANY (p_ids)) AS se
               ON se.id = k.id AND se.name = k.name;
    END IF;
    IF k_id IS NULL OR array_position(k_id, NULL) IS NOT NULL THEN
        RETURN QUERY SELECT r.ids, r.schemas, r.refused, r.created
                     FROM metrics.resolve_series(p_names, p_labels, k_id, k_schema,
                                                 p_max_new) AS r;
    ELSE
        RETURN QUERY SELECT k_id, k_schema, NULL::boolean[], 0;
    END IF;
END
$$;

-- The rollup rows of the next tier up (p_step '1 hour' from minute rows, '1 day' from
-- hour rows, NULL: one row per (schema, name), for the latest state), from rows sorted by
-- (schema, name, bucket), as ingest.write_series_samples builds them; sorted the same way.
-- Sum and count add up; the last sample is the one of the group's last row (the greatest
-- position: its bucket is the latest, so its last (time, series) is the group's greatest).
-- Hashed, a few dozen rows to sort.
CREATE OR REPLACE FUNCTION metrics.rollup_up(
    p_step interval, p_schema text[], p_name text[], p_bucket timestamptz[],
    p_time timestamptz[], p_series bigint[], p_value numeric[], p_sum numeric[], p_n bigint[])
RETURNS TABLE(schema text[], name text[], bucket timestamptz[], last_time timestamptz[],
              last_series bigint[], last_value numeric[], sum_value numeric[], n bigint[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, metrics, pg_temp
AS $$
    SELECT array_agg(x.schema), array_agg(x.name), array_agg(x.bucket),
           array_agg(p_time[x.o]), array_agg(p_series[x.o]), array_agg(p_value[x.o]),
           array_agg(x.sm), array_agg(x.c)
    FROM (SELECT u.schema, u.name, metrics.floor_to(u.b, p_step) AS bucket,
                 max(u.o) AS o, sum(u.sm) AS sm, sum(u.c)::bigint AS c
          FROM unnest(p_schema, p_name, p_bucket, p_sum, p_n) WITH ORDINALITY
               AS u(schema, name, b, sm, c, o)
          GROUP BY 1, 2, 3
          ORDER BY u.schema COLLATE "C", u.name COLLATE "C", 3) AS x
$$;
REVOKE ALL ON FUNCTION metrics.rollup_up(interval, text[], text[], timestamptz[], timestamptz[], bigint[], numeric[], numeric[], bigint[]) FROM PUBLIC;

-- The signature before the ingest window, the new-series cap and the conflict counts.
DROP FUNCTION IF EXISTS ingest.write_series_samples(text, bigint[], text[], text[], integer[], timestamptz[], double precision[], text[]);
CREATE OR REPLACE FUNCTION ingest.write_series_samples(
    p_routes  text,              -- metrics.routes_token() the ids were resolved under, or NULL
    p_ids     bigint[],          -- per series: its id from an earlier call, or NULL
    p_names   text[],            -- per series: metric name
    p_labels  text[],            -- per series: labels minus __name__ and the value labels, a JSON object
    p_series  integer[],         -- per sample: its series, 1-based position in the arrays above
    p_times   timestamptz[],     -- per sample
    p_values  double precision[],-- per sample: the sample value
    p_amounts text[],            -- per sample: its value label (metrics.value_labels()), or NULL
    p_now     timestamptz DEFAULT NULL, -- the ingest window's clock; NULL: no window
    p_max_future interval DEFAULT NULL, -- samples later than p_now + this are too new
    p_max_new_series integer DEFAULT NULL) -- series this call may register; NULL: no cap
RETURNS TABLE(received bigint, written bigint, duplicates bigint, routes text, series_ids bigint[],
              conflicts bigint, too_old bigint, too_new bigint, refused bigint, new_series integer,
              refused_series integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, metrics, pg_temp
-- float8 -> text -> numeric with the shortest exact digits, whatever the session says
SET extra_float_digits = 1
-- A batch's hashes stay in memory. Row estimates for unnest(array parameter) are far
-- too low, so the planner would sort; hashing is several times faster. Sorts still
-- happen where nothing else can work (DISTINCT ON, windows).
SET work_mem = '64MB'
SET enable_sort = off
-- a write path of many short statements: JIT compilation would cost more than it saves
SET jit = off
AS $$
DECLARE
    v_received bigint := coalesce(cardinality(p_times), 0);
    v_series   integer := coalesce(cardinality(p_names), 0);
    v_routes   text := metrics.routes_token();
    v_valid    bigint;
    v_written  bigint;
    v_min      timestamptz;
    v_max      timestamptz;
    v_month    text;   -- partition name suffix of a one-month batch
    -- per series (same positions as p_names): id and schema, NULL for an invalid series
    k_id     bigint[];
    k_schema text[];
    -- the rollup key (schema, name) of each written sample as an integer, its rank in
    -- the key order (COLLATE "C"): rows are grouped and sorted by (rank, bucket), an
    -- integer and a time rather than two texts; r_schema[rank] and r_name[rank] give
    -- the key back
    r_schema text[];
    r_name   text[];
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
    -- the batch's valid samples (after step 4: those really written)
    w_time   timestamptz[];
    w_series bigint[];
    w_schema text[];
    w_value  numeric[];
    w_rank   integer[];
    v_fast   boolean;
    v_span_fast boolean; -- a batch spanning minutes: its minute rows may take a plain INSERT
    v_probe  integer;
    v_first  integer;    -- one schema's range of the sorted minute rows
    v_last   integer;
    k_refused boolean[];
    o_time   timestamptz[];
    o_series bigint[];
    o_schema text[];
    o_value  numeric[];
    o_rank   integer[];
    v_new_series integer := 0;
    v_conflicts bigint := 0;
    v_too_old bigint;
    v_too_new bigint;
    v_refused bigint;
    -- stale markers taken (series ends): series and time
    e_series bigint[];
    e_time   timestamptz[];
    v_changed text[];   -- schemas whose data version to bump (step 8)
    v_ended  bigint := 0;
    -- the ingest window: not later than p_now + p_max_future, not older than the retention
    -- (every schema but cumsum, which is kept forever)
    v_latest timestamptz := coalesce(p_now + coalesce(p_max_future, interval '0'), 'infinity');
    v_oldest timestamptz := coalesce(p_now - metrics.network_retention(), '-infinity');
BEGIN
    IF coalesce(cardinality(p_series), 0) <> v_received
       OR coalesce(cardinality(p_values), 0) <> v_received
       OR coalesce(cardinality(p_amounts), 0) <> v_received THEN
        RAISE EXCEPTION 'write_series_samples: the sample arrays must have the same length (% series, % times, % values, % amounts)',
            coalesce(cardinality(p_series), 0), v_received, coalesce(cardinality(p_values), 0),
            coalesce(cardinality(p_amounts), 0)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(cardinality(p_labels), 0) <> v_series
       OR (p_ids IS NOT NULL AND cardinality(p_ids) <> v_series) THEN
        RAISE EXCEPTION 'write_series_samples: the series arrays must have the same length (% names, % labels, % ids)',
            v_series, coalesce(cardinality(p_labels), 0), cardinality(p_ids)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_received = 0 OR v_series = 0 THEN
        RETURN QUERY SELECT v_received, 0::bigint, 0::bigint, v_routes, k_id,
                            0::bigint, 0::bigint, 0::bigint, 0::bigint, 0, 0;
        RETURN;
    END IF;

    -- 1-2. The series: by the ids the caller knows, the others by their labels.
    SELECT r.ids, r.schemas, r.refused, r.created
    INTO k_id, k_schema, k_refused, v_new_series
    FROM metrics.request_series(p_routes, v_routes, p_ids, p_names, p_labels,
                                p_max_new_series) AS r;

    -- 3. The valid samples, once: series, schema, rollup key, time and exact value; counted
    --    apart: samples outside the window (why 1, 2) and of refused series (why 3).
    --    Stale markers (value NULL) in the window are series ends, kept apart (e_*).
    WITH r AS (   -- the batch's distinct rollup keys, ranked
        SELECT k.schema, k.name,
               (row_number() OVER (ORDER BY k.schema COLLATE "C", k.name COLLATE "C"))::integer
                   AS rank
        FROM (SELECT DISTINCT k.schema, k.name FROM unnest(k_schema, p_names) AS k(schema, name)
              WHERE k.schema IS NOT NULL) AS k
    )
    SELECT array_agg(x.time) FILTER (WHERE x.why = 0 AND x.value IS NOT NULL),
           array_agg(x.series_id) FILTER (WHERE x.why = 0 AND x.value IS NOT NULL),
           array_agg(x.schema) FILTER (WHERE x.why = 0 AND x.value IS NOT NULL),
           array_agg(x.value) FILTER (WHERE x.why = 0 AND x.value IS NOT NULL),
           array_agg(x.rank) FILTER (WHERE x.why = 0 AND x.value IS NOT NULL),
           array_agg(x.series_id) FILTER (WHERE x.why = 0 AND x.value IS NULL),
           array_agg(x.time) FILTER (WHERE x.why = 0 AND x.value IS NULL),
           count(*) FILTER (WHERE x.why = 1), count(*) FILTER (WHERE x.why = 2),
           count(*) FILTER (WHERE x.why = 3),
           (SELECT array_agg(r.schema ORDER BY r.rank) FROM r),
           (SELECT array_agg(r.name ORDER BY r.rank) FROM r)
    INTO w_time, w_series, w_schema, w_value, w_rank, e_series, e_time,
         v_too_new, v_too_old, v_refused, r_schema, r_name
    FROM (SELECT k.id AS series_id, k.schema, k.rank, u.t AS time, u.stale,
                 CASE WHEN k.refused THEN 3
                      WHEN k.id IS NULL THEN 4
                      WHEN u.t > v_latest THEN 1
                      WHEN u.t < v_oldest AND k.schema <> 'cumsum' THEN 2
                      ELSE 0 END AS why,
                 -- A stale marker (the NaN with bits 0x7ff0000000000002) has no value,
                 -- even when its series still carries a value label: it ends the series.
                 CASE WHEN u.stale THEN NULL
                      WHEN u.a IS NOT NULL THEN metrics.label_number(u.a)
                      ELSE u.v::text::numeric   -- shortest exact digits; NaN, +-Infinity kept
                 END AS value
          FROM (SELECT u.*, u.v = 'NaN' AND float8send(u.v) = '\x7ff0000000000002'::bytea AS stale
                FROM unnest(p_series, p_times, p_values, p_amounts) AS u(i, t, v, a)) AS u
          -- each series' rollup key ranked once per series, not once per sample (fenced:
          -- every unnest is estimated at 10 rows, and the planner joined the samples to
          -- the texts of r, a text hash probe per sample, ~0.5 ms of a backfill request)
          JOIN (SELECT k.*, r.rank
                FROM unnest(k_id, k_schema, p_names, k_refused) WITH ORDINALITY
                    AS k(id, schema, name, refused, i)
                LEFT JOIN r ON r.schema = k.schema AND r.name = k.name
                OFFSET 0) AS k ON k.i = u.i
          WHERE isfinite(u.t)
          OFFSET 0) AS x   -- the value once per sample, not again for the filter
    WHERE x.value IS NOT NULL OR x.stale;
    v_valid := coalesce(cardinality(w_time), 0);

    -- Partitions for the months of the samples to store (one month, the usual case:
    -- checked once), never for a sample outside the window.
    IF v_valid > 0 THEN
        SELECT min(t), max(t) INTO v_min, v_max FROM unnest(w_time) AS t;
        IF date_trunc('month', v_min AT TIME ZONE 'UTC') = date_trunc('month', v_max AT TIME ZONE 'UTC') THEN
            -- known to this backend (its catalog cache): nothing to create, no query
            v_month := to_char(v_min AT TIME ZONE 'UTC', '"_p"YYYY_MM');
            IF to_regclass('metrics.samples_network' || v_month) IS NULL
               OR to_regclass('metrics.samples_cumsum' || v_month) IS NULL
               OR to_regclass('metrics.rollup_1m_network' || v_month) IS NULL
               OR to_regclass('metrics.rollup_1m_cumsum' || v_month) IS NULL THEN
                PERFORM metrics.ensure_partitions(ARRAY[v_min]);
            END IF;
        ELSE
            PERFORM metrics.ensure_partitions(w_time);
        END IF;
    END IF;

    -- 4. Insert them exactly once. New samples (the usual batch) take a plain INSERT,
    --    about half the cost of ON CONFLICT per row; a batch that turns out to hold a
    --    sample already stored (or one twice) rolls that back and takes ON CONFLICT DO
    --    NOTHING, which keeps what was really written for the rollups. A few probes send
    --    an obvious replay straight there.
    IF v_valid > 0 THEN
        -- the samples' trigger leaves the data versions to step 8
        PERFORM set_config('metrics.data_versions_deferred', 'on', true);
        v_fast := true;
        FOREACH v_probe IN ARRAY ARRAY[1, ((v_valid + 1) / 2)::integer, v_valid::integer] LOOP
            IF EXISTS (SELECT 1 FROM metrics.samples AS s
                       WHERE s.time = w_time[v_probe] AND s.series_id = w_series[v_probe]
                         AND s.schema = w_schema[v_probe]) THEN
                v_fast := false;
                EXIT;
            END IF;
        END LOOP;
        IF v_fast THEN
            BEGIN
                INSERT INTO metrics.samples (time, series_id, schema, value)
                SELECT * FROM unnest(w_time, w_series, w_schema, w_value);
                v_written := v_valid;
            EXCEPTION WHEN unique_violation THEN
                v_fast := false;
            END;
        END IF;
        IF NOT v_fast THEN
            o_time := w_time; o_series := w_series; o_schema := w_schema; o_value := w_value;
            o_rank := w_rank;
            WITH ins AS (
                INSERT INTO metrics.samples AS s (time, series_id, schema, value)
                SELECT * FROM unnest(w_time, w_series, w_schema, w_value)
                ON CONFLICT DO NOTHING
                RETURNING s.time, s.series_id, s.schema, s.value
            )
            SELECT count(*), array_agg(i.time), array_agg(i.series_id), array_agg(i.schema),
                   array_agg(i.value)
            INTO v_written, w_time, w_series, w_schema, w_value
            FROM ins AS i;
            -- A sample at a stored (series, time) with another value (stored before, or
            -- earlier in this batch) is a conflicting duplicate: the stored value stays,
            -- and the caller hears about it.
            IF v_written < v_valid THEN
                SELECT count(*) INTO v_conflicts
                FROM unnest(o_time, o_series, o_schema, o_value) AS w(time, series_id, schema, value)
                JOIN metrics.samples AS s
                  ON s.time = w.time AND s.series_id = w.series_id AND s.schema = w.schema
                WHERE s.value <> w.value;
            END IF;
            IF v_written > 0 THEN   -- (a replay stops here)
                SELECT array_agg(k.rank ORDER BY w.o) INTO w_rank
                FROM unnest(w_series) WITH ORDINALITY AS w(id, o)
                JOIN (SELECT DISTINCT k.id, k.rank FROM unnest(o_series, o_rank) AS k(id, rank)) AS k
                  ON k.id = w.id;
            END IF;
        END IF;
    ELSE
        v_written := 0;
    END IF;

    -- 5. Roll up what was really written, one pass: per (schema, name, minute) the sum,
    --    the count and the last sample, the greatest (time, series_id) (the greatest array
    --    [epoch, series, value]: hashed, no sort), and the latest sample per geo series.
    --    Only finite values: NaN and +-Infinity are stored but never rolled up (numeric
    --    NaN sorts above Infinity, so abs(value) < Infinity leaves both out).
    IF v_written > 0 THEN
        WITH w AS (
            SELECT * FROM unnest(w_time, w_series, w_schema, w_value, w_rank)
                AS w(time, series_id, schema, value, rank)
            WHERE abs(w.value) < 'Infinity'::numeric
        ), minute AS (
            SELECT w.rank, metrics.floor_to(w.time, interval '1 minute') AS bucket,
                   max(w.time) AS time,
                   max(ARRAY[extract(epoch FROM w.time), w.series_id, w.value]) AS last,
                   sum(w.value) AS sum_value, count(*) AS n
            FROM w
            GROUP BY 1, 2
        ), geo AS (
            SELECT DISTINCT ON (series_id) series_id, time, value
            FROM w WHERE schema = 'geo'
            ORDER BY series_id, time DESC
        )
        SELECT m.a1, m.a2, m.a3, m.a4, m.a5, m.a6, m.a7, m.a8, g.a1, g.a2, g.a3
        INTO m_schema, m_name, m_bucket, m_time, m_series, m_value, m_sum, m_n,
             g_series, g_time, g_value
        -- one sort feeding eight plain aggregates (eight ORDER BY aggregates would sort
        -- eight times: costly when a batch spans many minutes, as a backfill does)
        -- (r_schema[rank] walks the text array from its start: quadratic in the names of
        -- a call, ~0.25 s for 10,000 names in 10,000 samples, the API's largest statement;
        -- a join on unnest(r_schema, r_name) WITH ORDINALITY measured slower for 6 names
        -- and for 10,000)
        FROM (SELECT array_agg(r_schema[rank]) AS a1, array_agg(r_name[rank]) AS a2,
                     array_agg(bucket) AS a3,
                     array_agg(time) AS a4, array_agg(last[2]::bigint) AS a5,
                     array_agg(last[3]) AS a6, array_agg(sum_value) AS a7, array_agg(n) AS a8
              FROM (SELECT * FROM minute ORDER BY rank, bucket) AS sorted) AS m,
             (SELECT array_agg(series_id ORDER BY series_id) AS a1,
                     array_agg(time ORDER BY series_id) AS a2,
                     array_agg(value ORDER BY series_id) AS a3
              FROM geo) AS g;

        -- 6. Rollup tiers and latest state, each tier derived from the one below (a
        --    backfill's 1,800 minute rows make a few dozen hour rows, a handful of day
        --    rows): the minute rows are sorted by (schema, name, bucket), so the last
        --    minute of an hour is the one with the greatest position, and it holds the
        --    hour's last sample (its minute is later than every other minute of the
        --    hour); the same for days from hours and the latest state from days. No
        --    window, no sort but the key order. Rows go in key order (COLLATE "C") so
        --    concurrent batches lock them in the same order. A row's "last" moves only
        --    to a later (time, series), so late and out-of-order samples land where they
        --    belong.
        --    Minute rows are mostly new in a backfill (a batch spanning hours: one row
        --    per sample): as for the samples, a plain INSERT (a third of the cost of ON
        --    CONFLICT) unless a probe of the first, middle and last row finds one stored,
        --    or the INSERT meets one (stored meanwhile, or by a concurrent batch: what
        --    it wrote is rolled back to a savepoint and the upsert runs). Decided per
        --    schema (the rows are sorted by schema first, so each schema's rows are one
        --    range, and the ranges go in key order): minute rows another sender shares
        --    are those of a schema it writes too (every network's exporter sends the
        --    price into `common`), and they must not send the whole batch to the upsert.
        --    A scrape (one minute, which concurrent senders share) takes the upsert.
        v_span_fast := v_max - v_min >= interval '10 minutes';
        FOR v_first, v_last IN
            SELECT min(m.o), max(m.o)
            FROM unnest(m_schema) WITH ORDINALITY AS m(schema, o)
            GROUP BY CASE WHEN v_span_fast THEN m.schema END
            ORDER BY 1
        LOOP
            v_fast := v_span_fast;
            FOREACH v_probe IN ARRAY ARRAY[v_first, (v_first + v_last) / 2, v_last] LOOP
                EXIT WHEN NOT v_fast;
                v_fast := NOT EXISTS (SELECT 1 FROM metrics.rollup_1m AS r
                                      WHERE r.schema = m_schema[v_probe]
                                        AND r.name = m_name[v_probe]
                                        AND r.bucket = m_bucket[v_probe]);
            END LOOP;
            IF v_fast THEN
                BEGIN
                    INSERT INTO metrics.rollup_1m
                           (schema, name, bucket, last_time, last_series, last_value, sum_value, n)
                    SELECT * FROM unnest(m_schema[v_first:v_last], m_name[v_first:v_last],
                                         m_bucket[v_first:v_last], m_time[v_first:v_last],
                                         m_series[v_first:v_last], m_value[v_first:v_last],
                                         m_sum[v_first:v_last], m_n[v_first:v_last]);
                EXCEPTION WHEN unique_violation THEN
                    v_fast := false;
                END;
            END IF;
            IF NOT v_fast THEN
                INSERT INTO metrics.rollup_1m AS r
                       (schema, name, bucket, last_time, last_series, last_value, sum_value, n)
                SELECT * FROM unnest(m_schema[v_first:v_last], m_name[v_first:v_last],
                                     m_bucket[v_first:v_last], m_time[v_first:v_last],
                                     m_series[v_first:v_last], m_value[v_first:v_last],
                                     m_sum[v_first:v_last], m_n[v_first:v_last])
                ON CONFLICT (schema, name, bucket) DO UPDATE SET
                    (last_time, last_series, last_value) =
                        (SELECT * FROM metrics.last_sample(
                            excluded.last_time, excluded.last_series, excluded.last_value,
                            r.last_time, r.last_series, r.last_value)),
                    sum_value   = r.sum_value + excluded.sum_value,
                    n           = r.n + excluded.n;
            END IF;
        END LOOP;
        SELECT * INTO m_schema, m_name, m_bucket, m_time, m_series, m_value, m_sum, m_n
        FROM metrics.rollup_up(interval '1 hour', m_schema, m_name, m_bucket, m_time, m_series,
                               m_value, m_sum, m_n);
        INSERT INTO metrics.rollup_1h AS r
               (schema, name, bucket, last_time, last_series, last_value, sum_value, n)
        SELECT * FROM unnest(m_schema, m_name, m_bucket, m_time, m_series, m_value, m_sum, m_n)
        ON CONFLICT (schema, name, bucket) DO UPDATE SET
            (last_time, last_series, last_value) =
                (SELECT * FROM metrics.last_sample(
                    excluded.last_time, excluded.last_series, excluded.last_value,
                    r.last_time, r.last_series, r.last_value)),
            sum_value   = r.sum_value + excluded.sum_value,
            n           = r.n + excluded.n;
        SELECT * INTO m_schema, m_name, m_bucket, m_time, m_series, m_value, m_sum, m_n
        FROM metrics.rollup_up(interval '1 day', m_schema, m_name, m_bucket, m_time, m_series,
                               m_value, m_sum, m_n);
        INSERT INTO metrics.rollup_1d AS r
               (schema, name, bucket, last_time, last_series, last_value, sum_value, n)
        SELECT * FROM unnest(m_schema, m_name, m_bucket, m_time, m_series, m_value, m_sum, m_n)
        ON CONFLICT (schema, name, bucket) DO UPDATE SET
            (last_time, last_series, last_value) =
                (SELECT * FROM metrics.last_sample(
                    excluded.last_time, excluded.last_series, excluded.last_value,
                    r.last_time, r.last_series, r.last_value)),
            sum_value   = r.sum_value + excluded.sum_value,
            n           = r.n + excluded.n;
        SELECT * INTO m_schema, m_name, m_bucket, m_time, m_series, m_value, m_sum, m_n
        FROM metrics.rollup_up(NULL, m_schema, m_name, m_bucket, m_time, m_series, m_value,
                               m_sum, m_n);

        INSERT INTO metrics.latest_by_name AS l
               (schema, name, last_time, last_series, last_value, total_sum, n)
        SELECT * FROM unnest(m_schema, m_name, m_time, m_series, m_value, m_sum, m_n)
        ON CONFLICT (schema, name) DO UPDATE SET
            (last_time, last_series, last_value) =
                (SELECT * FROM metrics.last_sample(
                    excluded.last_time, excluded.last_series, excluded.last_value,
                    l.last_time, l.last_series, l.last_value)),
            total_sum   = l.total_sum + excluded.total_sum,
            n           = l.n + excluded.n;

        INSERT INTO metrics.latest_by_series AS l (series_id, last_time, last_value)
        SELECT * FROM unnest(g_series, g_time, g_value)
        ON CONFLICT (series_id) DO UPDATE
            SET last_time = excluded.last_time, last_value = excluded.last_value
            WHERE excluded.last_time > l.last_time;
    END IF;

    -- 7. Stale markers: each ends its series at its time (metrics.series.ended_at, only
    --    ever moved later), so "latest" reads stop showing a series that has gone. A
    --    marker never conflicts with a sample: at the same time as one, the sample wins
    --    (a series is ended only by a marker later than its last sample). Each is taken.
    IF e_series IS NOT NULL THEN
        v_ended := cardinality(e_series);
        SELECT array_agg(DISTINCT se.schema) INTO v_changed
        FROM (SELECT se.id, se.schema FROM metrics.series AS se
              WHERE se.id = ANY (e_series) ORDER BY se.id FOR UPDATE) AS se;   -- lock order
        UPDATE metrics.series AS se SET ended_at = e.time
        FROM (SELECT e.id, max(e.time) AS time FROM unnest(e_series, e_time) AS e(id, time)
              GROUP BY e.id) AS e
        WHERE se.id = e.id AND (se.ended_at IS NULL OR se.ended_at < e.time);
        v_written := v_written + v_ended;
    END IF;

    -- 8. The data versions of the schemas written to (the response cache's), last and in
    --    one call: each is a row every batch into that schema locks until it commits, so
    --    taken here they serialise concurrent batches for a moment instead of from the
    --    samples' INSERT on (its trigger leaves them to us, see ingest_data_versions.sql).
    IF v_written > v_ended THEN
        v_changed := v_changed || ARRAY(SELECT DISTINCT s FROM unnest(w_schema) AS s);
    END IF;
    PERFORM set_config('metrics.data_versions_deferred', '', true);
    IF v_changed IS NOT NULL THEN
        PERFORM metrics.bump_data_versions(v_changed);
    END IF;

    RETURN QUERY SELECT v_received, v_written, v_valid - (v_written - v_ended) - v_conflicts, v_routes, k_id,
                        v_conflicts, v_too_old, v_too_new, v_refused, v_new_series,
                        coalesce(cardinality(array_positions(k_refused, true)), 0);
END
$$;

COMMENT ON FUNCTION ingest.write_series_samples(text, bigint[], text[], text[], integer[], timestamptz[], double precision[], text[], timestamptz, interval, integer) IS
$$Writes one batch of Prometheus samples exactly once, given per series (p_ids, p_names, p_labels: one element per distinct series) and per sample (p_series: the 1-based position of its series in those arrays, p_times, p_values, p_amounts).
p_labels are the series labels as a JSON object without __name__ and without the value labels (metrics.value_labels()); a sample's value is its p_amounts element (the first present value label, a plain decimal number: metrics.label_number) when not NULL, else p_values, as exact numeric (NaN and +-Infinity kept, but never rolled up).
A stale marker (a p_values element with the bits 0x7ff0000000000002) is no value: it ends its series (metrics.series.ended_at moves to its time when later), and counts as written. A series has gone while no sample of it is later than its end; at the same time a sample wins, so a marker never conflicts.
p_ids may carry the series ids an earlier call returned (NULL: unknown); they are used only while p_routes equals the current metrics.routes_token(), and only when the id still names a series of that name; every other series is routed by metrics.schema_routes, looked up by (schema, name, labels) and registered when unseen.
Not stored: samples whose time is NULL or infinite, whose series has no name or labels that are not a JSON object, or whose p_amounts element is not a decimal number. A sample whose (time, series) is already stored, or repeated in the batch, is a duplicate and changes nothing.
Rollups (1 minute, 1 hour, 1 day) and latest state are updated in the same transaction, from the finite values only.
The ingest window (when p_now is given): samples later than p_now + p_max_future (too_new), or older than p_now - metrics.network_retention() in any schema but cumsum (too_old), are not stored, and no partition is created for them. p_max_new_series caps the series this call registers; samples of the series over the cap are refused (refused).
A sample at a stored (series, time) with another value is a conflicting duplicate (conflicts): the stored value stays.
Returns received (array length), written (newly stored, and stale markers taken), duplicates (exact ones), routes (the routing token to pass with these ids next time), series_ids (per series position, NULL for an invalid or refused series), conflicts, too_old, too_new, refused (samples of refused series), new_series (series registered) and refused_series.$$;
REVOKE ALL ON FUNCTION ingest.write_series_samples(text, bigint[], text[], text[], integer[], timestamptz[], double precision[], text[], timestamptz, interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest.write_series_samples(text, bigint[], text[], text[], integer[], timestamptz[], double precision[], text[], timestamptz, interval, integer) TO writer;

-- ingest.write_series_samples with the sample times as epoch milliseconds, as remote write
-- carries them: what the HTTP ingest calls (a client encodes an int8[] several times
-- faster than a timestamptz[]). Exact: whole seconds, then the milliseconds.
CREATE OR REPLACE FUNCTION ingest.write_series_samples_ms(
    p_routes text, p_ids bigint[], p_names text[], p_labels text[], p_series integer[],
    p_millis bigint[],           -- per sample: milliseconds since 1970-01-01 00:00 UTC
    p_values double precision[], p_amounts text[], p_now timestamptz DEFAULT NULL,
    p_max_future interval DEFAULT NULL, p_max_new_series integer DEFAULT NULL)
RETURNS TABLE(received bigint, written bigint, duplicates bigint, routes text, series_ids bigint[],
              conflicts bigint, too_old bigint, too_new bigint, refused bigint, new_series integer,
              refused_series integer)
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM ingest.write_series_samples(
        p_routes, p_ids, p_names, p_labels, p_series,
        ARRAY(SELECT to_timestamp(m / 1000) + (m % 1000) * interval '1 millisecond'
              FROM unnest(p_millis) AS m),   -- (a function scan keeps the order)
        p_values, p_amounts, p_now, p_max_future, p_max_new_series)
$$;
REVOKE ALL ON FUNCTION ingest.write_series_samples_ms(text, bigint[], text[], text[], integer[], bigint[], double precision[], text[], timestamptz, interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest.write_series_samples_ms(text, bigint[], text[], text[], integer[], bigint[], double precision[], text[], timestamptz, interval, integer) TO writer;

-- The original contract: four per-sample arrays with full jsonb label sets. Derives the
-- series-level arrays (labels minus the value labels, once per distinct label set) and
-- the value labels, then writes through ingest.write_series_samples.
CREATE OR REPLACE FUNCTION ingest.write_samples(
    p_times  timestamptz[],
    p_names  text[],
    p_labels jsonb[],
    p_values double precision[])
RETURNS TABLE(received bigint, written bigint, duplicates bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, metrics, pg_temp
SET work_mem = '64MB'
SET enable_sort = off
SET jit = off
AS $$
DECLARE
    v_received bigint := coalesce(cardinality(p_times), 0);
    k_name   text[];
    k_labels text[];
    v_series integer[];
    v_amount text[];
    v_value_labels text[] := metrics.value_labels();
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

    -- Per sample its series key (labels minus the value labels, as text: jsonb's text
    -- form is canonical, and hashing text is cheaper than hashing jsonb) and value label.
    -- A present value label that is JSON null is '' (no number: the sample is refused).
    WITH s AS MATERIALIZED (
        SELECT u.ord, u.n,
               CASE WHEN isfinite(u.t) AND u.n IS NOT NULL
                         AND (u.l IS NULL OR jsonb_typeof(u.l) = 'object')
                    THEN CASE WHEN u.l ?| v_value_labels
                              THEN (u.l - v_value_labels)::text
                              ELSE coalesce(u.l, '{}')::text END
               END AS kt,
               CASE WHEN u.l ?| v_value_labels
                    THEN (SELECT coalesce(u.l ->> vl.name, '')
                          FROM unnest(v_value_labels) WITH ORDINALITY AS vl(name, o)
                          WHERE u.l ? vl.name
                          ORDER BY vl.o
                          LIMIT 1)
               END AS amount
        FROM unnest(p_times, p_names, p_labels) WITH ORDINALITY AS u(t, n, l, ord)
    ), k AS MATERIALIZED (
        SELECT d.n, d.kt, row_number() OVER () AS i
        FROM (SELECT DISTINCT s.n, s.kt FROM s WHERE s.kt IS NOT NULL) AS d
    )
    SELECT (SELECT array_agg(k.n ORDER BY k.i) FROM k),
           (SELECT array_agg(k.kt ORDER BY k.i) FROM k),
           (SELECT array_agg(k.i::integer ORDER BY s.ord) FROM s LEFT JOIN k ON k.n = s.n AND k.kt = s.kt),
           (SELECT array_agg(s.amount ORDER BY s.ord) FROM s)
    INTO k_name, k_labels, v_series, v_amount;

    RETURN QUERY
    SELECT w.received, w.written, w.duplicates
    FROM ingest.write_series_samples(NULL, NULL, k_name, k_labels, v_series, p_times, p_values,
                                     v_amount) AS w;
END
$$;

COMMENT ON FUNCTION ingest.write_samples(timestamptz[], text[], jsonb[], double precision[]) IS
$$Writes one batch of Prometheus samples exactly once. Parallel arrays, one element per sample: time, metric name, labels (the full label set minus __name__, a JSON object) and the sample value.
Each sample is routed to a schema by metrics.schema_routes; its series is (schema, name, labels minus the value labels of metrics.value_labels()); its value is the first present value label (a plain decimal number: metrics.label_number), else the sample value, as exact numeric (NaN and +-Infinity kept, never rolled up; a Prometheus stale marker ends its series instead, see ingest.write_series_samples).
Not stored: samples with a NULL or infinite time, a NULL name, labels that are not an object, or a value label that is not a decimal number.
A sample whose (time, series) is already stored, or repeated in the batch, is a duplicate and changes nothing; so a replayed batch changes nothing.
Rollups (1 minute, 1 hour, 1 day) and latest state are updated in the same transaction, from the finite values only.
Returns received (array length), written (newly stored) and duplicates (exact ones); received - written - duplicates samples were invalid and skipped, or conflicting duplicates (a stored (series, time) with another value: the stored value stays).
The HTTP ingest calls ingest.write_series_samples, which takes the batch per series.$$;
REVOKE ALL ON FUNCTION ingest.write_samples(timestamptz[], text[], jsonb[], double precision[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest.write_samples(timestamptz[], text[], jsonb[], double precision[]) TO writer;
