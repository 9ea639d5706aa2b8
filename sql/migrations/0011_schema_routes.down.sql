DROP TABLE IF EXISTS metrics.schema_routes;
