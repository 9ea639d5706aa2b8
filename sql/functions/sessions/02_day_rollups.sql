-- Reading the per-day rollups (sessions.user_days, sessions.day_usage; migration 0046).
-- A range [p_from, p_to) splits into the whole UTC days [first_day, end_day) inside it,
-- read from the rollups, and the partial days at its edges, read from sessions.sessions;
-- so the answers are exactly those of the sessions alone (tests/sql/47–49 compare them).

-- The whole UTC days inside [p_from, p_to): [first_day, end_day), empty when
-- first_day >= end_day.
CREATE OR REPLACE FUNCTION sessions.whole_days(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (first_day timestamptz, end_day timestamptz)
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE WHEN p_from = date_trunc('day', p_from, 'UTC') THEN p_from
                ELSE date_trunc('day', p_from, 'UTC') + interval '24 hours' END,
           date_trunc('day', p_to, 'UTC');
END;
COMMENT ON FUNCTION sessions.whole_days(timestamptz, timestamptz) IS
    'The whole UTC days [first_day, end_day) inside [p_from, p_to)';
REVOKE ALL ON FUNCTION sessions.whole_days(timestamptz, timestamptz) FROM PUBLIC;

-- Distinct users and containers per bucket, overall (p_kind all), per node or per image:
-- what get_active_users, get_node_usage and get_image_usage return. 1-day buckets read
-- the whole days from sessions.day_usage; other widths, and ranges without a whole day,
-- bucket the sessions (sessions.session_buckets). Columns not grouped by are ''.
CREATE OR REPLACE FUNCTION sessions.usage_buckets(
    p_kind text, p_interval interval, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (
    bucket            timestamptz,
    node_name         text,
    container_base    text,
    container_version text,
    users             bigint,
    containers        bigint
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_from  timestamptz;
    v_to    timestamptz;
    v_width interval;
    v_first timestamptz;
    v_end   timestamptz;
BEGIN
    -- The checks run before any data is read: bad input fails even on no data.
    SELECT r.range_from, r.range_to INTO v_from, v_to FROM sessions.resolve_range(p_from, p_to) r;
    v_width := sessions.check_interval(p_interval, v_from, v_to);
    SELECT w.first_day, w.end_day INTO v_first, v_end FROM sessions.whole_days(v_from, v_to) w;
    IF v_width <> interval '24 hours' OR v_first >= v_end THEN
        v_first := v_to;  -- no whole days from the rollup: every bucket from the sessions
        v_end := v_to;
    END IF;
    RETURN QUERY
        SELECT s.bucket,
               CASE WHEN p_kind = 'node' THEN s.node_name ELSE '' END,
               CASE WHEN p_kind = 'image' THEN s.container_base ELSE '' END,
               CASE WHEN p_kind = 'image' THEN s.container_version ELSE '' END,
               count(DISTINCT s.user_id), count(*)
          FROM (SELECT * FROM sessions.session_buckets(v_width, v_from, v_first)
                UNION ALL
                SELECT * FROM sessions.session_buckets(v_width, v_end, v_to)) s
         GROUP BY 1, 2, 3, 4
        UNION ALL
        SELECT r.day, r.node_name, r.container_base, r.container_version,
               r.users::bigint, r.containers::bigint
          FROM sessions.day_usage r
         WHERE r.kind = p_kind AND r.day >= v_first AND r.day < v_end;
END
$$;
COMMENT ON FUNCTION sessions.usage_buckets(text, interval, timestamptz, timestamptz) IS
    'Distinct users and containers per bucket (kind all, node or image) over [p_from, p_to); unordered';
REVOKE ALL ON FUNCTION sessions.usage_buckets(text, interval, timestamptz, timestamptz) FROM PUBLIC;
