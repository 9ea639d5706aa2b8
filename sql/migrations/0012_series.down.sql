DROP TABLE IF EXISTS metrics.series;
