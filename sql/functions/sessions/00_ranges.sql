-- Shared by the sessions read functions: time ranges, buckets and the sessions that
-- overlap a range, clipped to it. Internal (schema `sessions`, not exposed over /rpc);
-- callers are SECURITY DEFINER functions with a pinned search_path, so these stay plain
-- SQL without SET clauses and can be inlined into the caller's plan.

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

-- Start of the bucket holding p_ts, in UTC. Fixed durations align like TimescaleDB's
-- time_bucket (origin Monday 2000-01-03), so weeks start on Monday; month and year
-- widths align to calendar months (quarters start in Jan/Apr/Jul/Oct, years in Jan).
CREATE OR REPLACE FUNCTION sessions.bucket_floor(p_ts timestamptz, p_interval interval)
RETURNS timestamptz
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE
        WHEN m.width > 0 THEN
            make_timestamp(m.floored / 12, m.floored % 12 + 1, 1, 0, 0, 0) AT TIME ZONE 'UTC'
        ELSE
            date_bin(p_interval, p_ts, timestamptz '2000-01-03 00:00:00+00')
        END
      FROM (SELECT w.width,
                   CASE WHEN w.width > 0
                        THEN (extract(year FROM p_ts AT TIME ZONE 'UTC')::integer * 12
                              + extract(month FROM p_ts AT TIME ZONE 'UTC')::integer - 1)
                             / w.width * w.width
                   END AS floored
              FROM (SELECT extract(year FROM p_interval)::integer * 12
                           + extract(month FROM p_interval)::integer AS width) w) m;
END;
COMMENT ON FUNCTION sessions.bucket_floor(timestamptz, interval) IS
    'Start of the bucket of width p_interval holding p_ts (UTC; calendar-aligned for months)';
REVOKE ALL ON FUNCTION sessions.bucket_floor(timestamptz, interval) FROM PUBLIC;

-- The buckets a span [p_start, p_end) touches, oldest first. Calendar arithmetic runs on
-- UTC wall-clock time so the result does not depend on the session's TimeZone.
CREATE OR REPLACE FUNCTION sessions.buckets_of_span(
    p_start timestamptz, p_end timestamptz, p_interval interval)
RETURNS SETOF timestamptz
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
ROWS 4
BEGIN ATOMIC
    SELECT b AT TIME ZONE 'UTC'
      FROM generate_series(sessions.bucket_floor(p_start, p_interval) AT TIME ZONE 'UTC',
                           p_end AT TIME ZONE 'UTC',
                           p_interval) AS b
     WHERE b < p_end AT TIME ZONE 'UTC'
     ORDER BY b;
END;
COMMENT ON FUNCTION sessions.buckets_of_span(timestamptz, timestamptz, interval) IS
    'Bucket starts (width p_interval) that the span [p_start, p_end) touches';
REVOKE ALL ON FUNCTION sessions.buckets_of_span(timestamptz, timestamptz, interval) FROM PUBLIC;

-- Sessions overlapping [p_from, p_to), each with the part inside the range.
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
           sessions.node_class_of(s.node_name),
           s.container_base, s.container_version,
           s.started_at, s.ended_at, s.last_observed_at,
           greatest(s.started_at, p_from),
           least(s.ended_at, p_to),
           extract(epoch FROM least(s.ended_at, p_to) - greatest(s.started_at, p_from))
      FROM sessions.sessions s
     WHERE tstzrange(s.started_at, s.ended_at, '[]') && tstzrange(p_from, p_to, '[)')
       AND s.started_at < p_to
       AND s.ended_at > p_from;
END;
COMMENT ON FUNCTION sessions.sessions_in_range(timestamptz, timestamptz) IS
    'Sessions overlapping [p_from, p_to) with their clipped span and seconds inside the range';
REVOKE ALL ON FUNCTION sessions.sessions_in_range(timestamptz, timestamptz) FROM PUBLIC;
