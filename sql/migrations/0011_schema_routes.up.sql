-- Which network ("schema") a sample belongs to is data, not code (DESIGN §5).
-- A rule matches when its metric_name (if set) equals the sample's name and its
-- label_name (if set) has the value label_value; the matching rule with the lowest
-- priority wins. Rules see the series labels, i.e. without supply/excluded_supply/amount.
CREATE TABLE metrics.schema_routes (
    priority      integer PRIMARY KEY,
    metric_name   text,
    label_name    text,
    label_value   text,
    target_schema text NOT NULL CHECK (target_schema ~ '^[a-z][a-z0-9_]*$'),
    CHECK ((label_name IS NULL) = (label_value IS NULL))
);

COMMENT ON TABLE metrics.schema_routes IS
    'Routing of samples to a network schema: first matching rule by priority wins.';

-- Names first: geo and cumulative metrics keep their own schema even when the exporter
-- also tags them with manifest_tier (the API reads them from `geo` and `cumsum`).
INSERT INTO metrics.schema_routes (priority, metric_name, label_name, label_value, target_schema)
VALUES
    (100, 'manifest_geo_latitude',      NULL, NULL, 'geo'),
    (101, 'manifest_geo_longitude',     NULL, NULL, 'geo'),
    (102, 'manifest_geo_metadata',      NULL, NULL, 'geo'),
    (200, 'web_requests',               NULL, NULL, 'cumsum'),
    (201, 'system_tcp_sent',            NULL, NULL, 'cumsum'),
    (202, 'system_tcp_received',        NULL, NULL, 'cumsum'),
    (203, 'system_network_sent',        NULL, NULL, 'cumsum'),
    (204, 'system_network_received',    NULL, NULL, 'cumsum'),
    (205, 'decentralized_web_requests', NULL, NULL, 'cumsum'),
    (300, NULL, 'manifest_tier', 'mainnet', 'mainnet'),
    (301, NULL, 'manifest_tier', 'testnet', 'testnet'),
    (1000000, NULL, NULL, NULL, 'common');
