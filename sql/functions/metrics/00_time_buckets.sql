-- Time arithmetic shared by the rollups and the API functions. All of it is in UTC and
-- independent of the session's TimeZone. Buckets align like TimescaleDB's time_bucket:
-- on 2000-01-03 00:00 UTC (a Monday) for fixed intervals, on 2000-01-01 for months.

-- Start of the `p_step` bucket holding p_time (p_step without months).
CREATE OR REPLACE FUNCTION metrics.floor_to(p_time timestamptz, p_step interval)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN date_bin(p_step, p_time, timestamptz '2000-01-03 00:00:00+00');

-- Smallest bucket boundary at or after p_time. Not STRICT (a NULL gives NULL anyway), so
-- the planner can inline it: it runs once per rollup row.
CREATE OR REPLACE FUNCTION metrics.ceil_to(p_time timestamptz, p_step interval)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN metrics.floor_to(p_time, p_step) = p_time THEN p_time
            ELSE metrics.floor_to(p_time, p_step) + p_step END;

-- Which rollup tier can answer buckets of p_interval: the coarsest whose buckets nest in
-- them ('day', 'hour' or 'minute'). Raises 22023 for an interval no tier can answer:
-- not positive, not whole minutes, or months mixed with days/time.
CREATE OR REPLACE FUNCTION metrics.interval_tier(p_interval interval)
RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    v_months bigint := extract(year FROM p_interval)::bigint * 12
                       + extract(month FROM p_interval)::bigint;
    v_days   bigint := extract(day FROM p_interval)::bigint;
    v_time   interval := p_interval - date_trunc('day', p_interval);
    v_usecs  numeric;
BEGIN
    IF v_months <> 0 THEN
        IF v_months > 0 AND v_days = 0 AND v_time = interval '0' THEN
            RETURN 'day';
        END IF;
        RAISE EXCEPTION 'invalid bucket interval: %', p_interval
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Month and year intervals cannot be combined with days or time.',
                  HINT = 'Use e.g. ''1 month'', ''3 months'', ''1 day'' or ''15 minutes''.';
    END IF;
    v_usecs := v_days * 86400000000 + extract(epoch FROM v_time) * 1000000;
    IF v_days < 0 OR v_time < interval '0' OR v_usecs < 60000000 OR v_usecs % 60000000 <> 0 THEN
        RAISE EXCEPTION 'invalid bucket interval: %', p_interval
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'Buckets are built from one-minute rollups: the interval must be a positive whole number of minutes, days or months.',
                  HINT = 'Use e.g. ''1 minute'', ''1 hour'', ''1 day'' or ''1 month''.';
    END IF;
    RETURN CASE WHEN v_usecs % 86400000000 = 0 THEN 'day'
                WHEN v_usecs % 3600000000 = 0 THEN 'hour'
                ELSE 'minute' END;
END
$$;

-- Start of the p_interval bucket holding p_time. Month intervals count calendar months
-- (UTC) from 2000-01-01; others use date_bin (a day is 24 hours). Not STRICT (a NULL gives
-- NULL through the CASE anyway): PostgreSQL inlines a STRICT function only when it can
-- prove its body strict, which a CASE is not, and this runs once per rollup row.
CREATE OR REPLACE FUNCTION metrics.bucket_start(p_time timestamptz, p_interval interval)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN extract(year FROM p_interval) * 12 + extract(month FROM p_interval) > 0 THEN
        (timestamp '2000-01-01'
         + make_interval(months => (
               floor(((extract(year FROM p_time AT TIME ZONE 'UTC') - 2000) * 12
                      + extract(month FROM p_time AT TIME ZONE 'UTC') - 1)
                     / (extract(year FROM p_interval) * 12 + extract(month FROM p_interval)))
               * (extract(year FROM p_interval) * 12 + extract(month FROM p_interval)))::int))
        AT TIME ZONE 'UTC'
    ELSE date_bin(p_interval, p_time, timestamptz '2000-01-03 00:00:00+00')
END;

REVOKE ALL ON FUNCTION metrics.floor_to(timestamptz, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION metrics.ceil_to(timestamptz, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION metrics.interval_tier(interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION metrics.bucket_start(timestamptz, interval) FROM PUBLIC;
