-- Shared by the sessions read functions: time ranges, buckets and the sessions that
-- overlap a range, clipped to it. Internal (schema `sessions`, not exposed over /rpc).
-- The argument checks (resolve_range, check_interval, check_limit) are plpgsql with a
-- pinned search_path: they run once per call and are never inlined. The per-row helpers
-- (buckets_of_span, sessions_in_range) are plain SQL without SET clauses or STRICT, so
-- the planner inlines them into the caller's query; their callers pin search_path, so
-- everything they reference is schema-qualified.

-- [p_from, p_to) with the defaults every read function shares: the 7 days up to now.
CREATE OR REPLACE FUNCTION sessions.resolve_range(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (range_from timestamptz, range_to timestamptz)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    range_to := coalesce(p_to, now());
    range_from := coalesce(p_from, range_to - interval '7 days');
    IF range_from > range_to THEN
        RAISE EXCEPTION 'p_from (%) must not be after p_to (%)', range_from, range_to
            USING ERRCODE = '22023', HINT = 'Ranges are half-open: [p_from, p_to).';
    END IF;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION sessions.resolve_range(timestamptz, timestamptz) IS
    'The range [p_from, p_to) with defaults (p_to = now(), p_from = p_to − 7 days); 22023 when inverted';
REVOKE ALL ON FUNCTION sessions.resolve_range(timestamptz, timestamptz) FROM PUBLIC;

-- A bucket width: either whole months/years (calendar buckets) or a fixed duration.
CREATE OR REPLACE FUNCTION sessions.check_interval(
    p_interval interval, p_from timestamptz, p_to timestamptz)
RETURNS interval
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_months integer;
    v_rest   interval;
BEGIN
    IF p_interval IS NULL OR p_interval <= interval '0' THEN
        RAISE EXCEPTION 'p_interval must be a positive interval, got %', coalesce(p_interval::text, 'null')
            USING ERRCODE = '22023';
    END IF;
    v_months := extract(year FROM p_interval)::integer * 12 + extract(month FROM p_interval)::integer;
    v_rest := p_interval - make_interval(months => v_months);
    IF v_months <> 0 AND v_rest <> interval '0' THEN
        RAISE EXCEPTION 'p_interval % mixes months with days or time', p_interval
            USING ERRCODE = '22023', HINT = 'Use whole months/years (e.g. 1 month) or a fixed duration (e.g. 6 hours).';
    END IF;
    IF v_months = 0 AND p_interval < interval '1 second' THEN
        RAISE EXCEPTION 'p_interval must be at least 1 second, got %', p_interval
            USING ERRCODE = '22023';
    END IF;
    IF extract(epoch FROM p_to - p_from) / extract(epoch FROM p_interval) > 100000 THEN
        RAISE EXCEPTION 'p_interval % makes more than 100000 buckets over [%, %)', p_interval, p_from, p_to
            USING ERRCODE = '22023', HINT = 'Use a larger p_interval or a shorter range.';
    END IF;
    RETURN p_interval;
END
$$;
COMMENT ON FUNCTION sessions.check_interval(interval, timestamptz, timestamptz) IS
    'p_interval when usable as a bucket width over [p_from, p_to), else 22023';
REVOKE ALL ON FUNCTION sessions.check_interval(interval, timestamptz, timestamptz) FROM PUBLIC;

CREATE OR REPLACE FUNCTION sessions.check_limit(p_limit integer)
RETURNS integer
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_limit IS NULL OR p_limit < 1 THEN
        RAISE EXCEPTION 'p_limit must be a positive integer, got %', coalesce(p_limit::text, 'null')
            USING ERRCODE = '22023';
    END IF;
    RETURN p_limit;
END
$$;
COMMENT ON FUNCTION sessions.check_limit(integer) IS 'p_limit when positive, else 22023';
REVOKE ALL ON FUNCTION sessions.check_limit(integer) FROM PUBLIC;

-- The buckets a span [p_start, p_end) touches. Bucket starts come from
-- metrics.bucket_start, so sessions and metrics bucket every width identically (fixed
-- durations from Monday 2000-01-03, months counted from 2000-01-01, all in UTC). No
-- ORDER BY: every caller groups the rows again. Calendar arithmetic runs on UTC
-- wall-clock time so the result does not depend on the session's TimeZone.
CREATE OR REPLACE FUNCTION sessions.buckets_of_span(
    p_start timestamptz, p_end timestamptz, p_interval interval)
RETURNS SETOF timestamptz
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
ROWS 4
BEGIN ATOMIC
    SELECT b AT TIME ZONE 'UTC'
      FROM generate_series(metrics.bucket_start(p_start, p_interval) AT TIME ZONE 'UTC',
                           p_end AT TIME ZONE 'UTC',
                           p_interval) AS b
     WHERE b < p_end AT TIME ZONE 'UTC';
END;
COMMENT ON FUNCTION sessions.buckets_of_span(timestamptz, timestamptz, interval) IS
    'Bucket starts (width p_interval, as metrics.bucket_start) that the span [p_start, p_end) touches';
REVOKE ALL ON FUNCTION sessions.buckets_of_span(timestamptz, timestamptz, interval) FROM PUBLIC;

-- Replaced by metrics.bucket_start (it counted months from year 0, not from 2000).
DROP FUNCTION IF EXISTS sessions.bucket_floor(timestamptz, interval);

-- Sessions overlapping [p_from, p_to), each with the part inside the range and its node
-- class (as sessions.node_class_of, joined here rather than called once per session).
CREATE OR REPLACE FUNCTION sessions.sessions_in_range(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (
    session_id        bigint,
    user_id           bigint,
    pod_name          text,
    node_name         text,
    node_class        text,
    container_base    text,
    container_version text,
    started_at        timestamptz,
    ended_at          timestamptz,
    last_observed_at  timestamptz,
    clip_start        timestamptz,
    clip_end          timestamptz,
    seconds_in_range  numeric
)
LANGUAGE sql
STABLE
PARALLEL SAFE
BEGIN ATOMIC
    SELECT s.session_id, s.user_id, s.pod_name, s.node_name,
           coalesce(nc.node_class, 'cpu'),
           s.container_base, s.container_version,
           s.started_at, s.ended_at, s.last_observed_at,
           greatest(s.started_at, p_from),
           least(s.ended_at, p_to),
           extract(epoch FROM least(s.ended_at, p_to) - greatest(s.started_at, p_from))
      FROM sessions.sessions s
      -- sessions.node_class_of(s.node_name), inlined: the same match and precedence
      -- (lowest priority, then longest pattern, then pattern), unmatched → cpu.
      LEFT JOIN LATERAL (
            SELECT c.node_class
              FROM sessions.node_classes c
             WHERE s.node_name ILIKE c.pattern
             ORDER BY c.priority, length(c.pattern) DESC, c.pattern
             LIMIT 1) nc ON true
     WHERE tstzrange(s.started_at, s.ended_at, '[]') && tstzrange(p_from, p_to, '[)')
       AND s.started_at < p_to
       AND s.ended_at > p_from;
END;
COMMENT ON FUNCTION sessions.sessions_in_range(timestamptz, timestamptz) IS
    'Sessions overlapping [p_from, p_to) with their clipped span and seconds inside the range';
REVOKE ALL ON FUNCTION sessions.sessions_in_range(timestamptz, timestamptz) FROM PUBLIC;
