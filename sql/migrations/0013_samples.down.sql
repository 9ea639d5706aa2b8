DROP TABLE IF EXISTS metrics.samples;
