CREATE OR REPLACE FUNCTION api.get_latest_geo_coordinates()
RETURNS TABLE(latitude double precision, longitude double precision,
              country_name text, city text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, metrics, pg_temp
SET metrics_rpc.cache_control = 'public, max-age=60, stale-while-revalidate=300'
AS $$
    WITH newest AS (
        -- per instance and geo metric, the series with the newest sample
        SELECT DISTINCT ON (s.labels ->> 'instance', s.name)
               s.labels ->> 'instance' AS instance, s.name, s.labels, l.last_value
        FROM metrics.latest_by_series AS l
        JOIN metrics.series AS s ON s.id = l.series_id
        WHERE s.schema = 'geo'
          -- a series a stale marker ended after its last sample has gone
          AND (s.ended_at IS NULL OR s.ended_at <= l.last_time)
          AND s.name IN ('manifest_geo_latitude', 'manifest_geo_longitude', 'manifest_geo_metadata')
        ORDER BY s.labels ->> 'instance', s.name, l.last_time DESC, l.series_id DESC
    ), per_instance AS (
        SELECT n.instance,
               max(n.last_value) FILTER (WHERE n.name = 'manifest_geo_latitude') AS latitude,
               max(n.last_value) FILTER (WHERE n.name = 'manifest_geo_longitude') AS longitude,
               max(n.labels ->> 'country_name') FILTER (WHERE n.name = 'manifest_geo_metadata') AS country_name,
               max(n.labels ->> 'city') FILTER (WHERE n.name = 'manifest_geo_metadata') AS city
        FROM newest AS n
        GROUP BY n.instance
    )
    SELECT p.latitude::double precision, p.longitude::double precision, p.country_name, p.city
    FROM per_instance AS p
    WHERE p.latitude IS NOT NULL AND p.longitude IS NOT NULL
    ORDER BY p.instance
$$;

COMMENT ON FUNCTION api.get_latest_geo_coordinates() IS
$$Latest location of every instance (the `instance` label): latitude and longitude are the latest values of manifest_geo_latitude and manifest_geo_longitude, country_name and city the labels of its latest manifest_geo_metadata sample (NULL if none). Instances without both coordinates are left out. A series that has gone (a stale marker later than its last sample, docs/INGEST.md) is left out.$$;
REVOKE ALL ON FUNCTION api.get_latest_geo_coordinates() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.get_latest_geo_coordinates() TO web_anon, writer;
