DROP TABLE IF EXISTS metrics.latest_by_series;
DROP TABLE IF EXISTS metrics.latest_by_name;
