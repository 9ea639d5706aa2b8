DROP TABLE IF EXISTS metrics.rollup_1d;
DROP TABLE IF EXISTS metrics.rollup_1h;
DROP TABLE IF EXISTS metrics.rollup_1m;
