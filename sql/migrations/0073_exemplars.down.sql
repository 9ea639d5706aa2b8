DROP TABLE IF EXISTS metrics.exemplars;
