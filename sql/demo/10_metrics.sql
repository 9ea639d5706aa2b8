-- Demo metrics for `metrics-rpc dev`: a week ending now, one point every 5 minutes (geo
-- hourly), written through ingest.write_samples like real remote-write data. Values are
-- functions of time, so loading again later only adds the points that are new.
WITH ts AS (
    SELECT t, extract(epoch FROM t)::bigint AS e, (extract(epoch FROM t)::bigint / 300) AS i
    FROM generate_series(metrics.floor_to(now(), '5 minutes') - interval '7 days',
                         metrics.floor_to(now(), '5 minutes'), interval '5 minutes') AS t
), nets AS (
    SELECT * FROM (VALUES ('mainnet', 1::numeric), ('testnet', 0.25)) AS n(tier, scale)
), samples(t, name, labels, value) AS (
    -- Tokenomics: token amounts are 21-digit label values (sample value 1), as exporters send them.
    SELECT t, 'manifest_tokenomics_total_supply',
           jsonb_build_object('manifest_tier', tier, 'instance', 'tokenomics-exporter',
                              'supply', trunc(987654321000000000000 * scale + e::numeric * 1234567)::text), 1::float8
    FROM ts, nets
    UNION ALL
    SELECT t, 'manifest_tokenomics_excluded_supply',
           jsonb_build_object('manifest_tier', tier, 'instance', 'tokenomics-exporter',
                              'excluded_supply', trunc(123456789000000000000 * scale + (i % 97)::numeric * 1000000007)::text), 1
    FROM ts, nets
    UNION ALL
    SELECT t, 'locked_tokens',
           jsonb_build_object('manifest_tier', tier, 'instance', 'tokenomics-exporter',
                              'amount', trunc(150000000000000000000 * scale + (i % 288)::numeric * 3000000000001)::text), 1
    FROM ts, nets
    UNION ALL
    SELECT t, 'locked_fees',
           jsonb_build_object('manifest_tier', tier, 'instance', 'tokenomics-exporter',
                              'amount', trunc(2500000000000000000 * scale + (i % 50)::numeric * 77777777)::text), 1
    FROM ts, nets
    UNION ALL
    SELECT t, 'total_mfx_burned',
           jsonb_build_object('manifest_tier', tier, 'instance', 'tokenomics-exporter',
                              'amount', trunc(12345678000000000000 * scale + e::numeric * 10007)::text), 1
    FROM ts, nets
    UNION ALL
    -- The MFX:PWR price lives in common and applies to every network.
    SELECT t, 'talib_mfx_power_conversion', '{"instance": "talib"}'::jsonb,
           round((0.9 + 0.05 * sin(e / 86400.0 * 2 * pi()))::numeric, 6)::float8
    FROM ts
    UNION ALL
    -- Chain gauges per network.
    SELECT t, 'block_height', jsonb_build_object('manifest_tier', tier, 'instance', 'node-1'),
           ((e - 1700000000) / 6 * scale)::float8
    FROM ts, nets
    UNION ALL
    SELECT t, 'validators', jsonb_build_object('manifest_tier', tier, 'instance', 'node-1'),
           (CASE WHEN tier = 'mainnet' THEN 40 ELSE 12 END + i % 3)::float8
    FROM ts, nets
    UNION ALL
    SELECT t, 'total_pwr_minted', jsonb_build_object('manifest_tier', tier, 'instance', 'node-1',
                                                     'amount', (500000000000000000000 * scale + e::numeric * 999)::text), 1
    FROM ts, nets
    UNION ALL
    -- Common gauges.
    SELECT t, m.name, '{"instance": "cluster"}'::jsonb, m.v
    FROM ts, LATERAL (VALUES ('web_sites', (120 + i / 288 % 50)::float8),
                             ('kube_nodes', (8 + i / 1000 % 3)::float8),
                             ('minio_buckets', (30 + i / 500 % 20)::float8),
                             ('minio_used', (1.5e12 + (i % 2016) * 1.0e8)::float8),
                             ('total_process', round(300 + 25 * sin(i / 12.0))::float8)) AS m(name, v)
    UNION ALL
    -- Cumulative metrics: increments per scrape, summed into running totals by the API.
    SELECT t, m.name, '{"instance": "gateway-1"}'::jsonb, m.v
    FROM ts, LATERAL (VALUES ('web_requests', (900 + i * 37 % 400)::float8),
                             ('decentralized_web_requests', (200 + i * 13 % 150)::float8),
                             ('system_tcp_sent', (4.0e6 + i * 7919 % 1000000)::float8),
                             ('system_tcp_received', (3.0e6 + i * 6173 % 900000)::float8),
                             ('system_network_sent', (9.0e6 + i * 104729 % 3000000)::float8),
                             ('system_network_received', (8.0e6 + i * 15485863 % 2000000)::float8)) AS m(name, v)
    UNION ALL
    -- Geo: ~20 validators across countries, hourly.
    SELECT t, g.name, g.labels, g.v
    FROM ts
    CROSS JOIN (VALUES
        ('validator-01', 'Canada', 'Montreal', 45.5019, -73.5674),
        ('validator-02', 'Canada', 'Toronto', 43.6532, -79.3832),
        ('validator-03', 'United States', 'New York', 40.7128, -74.0060),
        ('validator-04', 'United States', 'San Francisco', 37.7749, -122.4194),
        ('validator-05', 'United States', 'Chicago', 41.8781, -87.6298),
        ('validator-06', 'Brazil', 'Sao Paulo', -23.5505, -46.6333),
        ('validator-07', 'United Kingdom', 'London', 51.5074, -0.1278),
        ('validator-08', 'France', 'Paris', 48.8566, 2.3522),
        ('validator-09', 'Germany', 'Frankfurt', 50.1109, 8.6821),
        ('validator-10', 'Netherlands', 'Amsterdam', 52.3676, 4.9041),
        ('validator-11', 'Finland', 'Helsinki', 60.1699, 24.9384),
        ('validator-12', 'Poland', 'Warsaw', 52.2297, 21.0122),
        ('validator-13', 'South Africa', 'Johannesburg', -26.2041, 28.0473),
        ('validator-14', 'India', 'Mumbai', 19.0760, 72.8777),
        ('validator-15', 'Singapore', 'Singapore', 1.3521, 103.8198),
        ('validator-16', 'Japan', 'Tokyo', 35.6762, 139.6503),
        ('validator-17', 'South Korea', 'Seoul', 37.5665, 126.9780),
        ('validator-18', 'Australia', 'Sydney', -33.8688, 151.2093),
        ('validator-19', 'Argentina', 'Buenos Aires', -34.6037, -58.3816),
        ('validator-20', 'Kenya', 'Nairobi', -1.2921, 36.8219)) AS v(instance, country, city, lat, lon)
    CROSS JOIN LATERAL (VALUES
        ('manifest_geo_latitude', jsonb_build_object('instance', v.instance, 'manifest_tier', 'mainnet'), v.lat::float8),
        ('manifest_geo_longitude', jsonb_build_object('instance', v.instance, 'manifest_tier', 'mainnet'), v.lon::float8),
        ('manifest_geo_metadata', jsonb_build_object('instance', v.instance, 'manifest_tier', 'mainnet',
                                                     'country_name', v.country, 'city', v.city), 1::float8)
    ) AS g(name, labels, v)
    WHERE ts.e % 3600 = 0
)
SELECT w.*
FROM (SELECT array_agg(t) AS ts, array_agg(name) AS names, array_agg(labels) AS labels,
             array_agg(value) AS vals
      FROM samples) AS b,
     ingest.write_samples(b.ts, b.names, b.labels, b.vals) AS w;

-- A few excluded addresses (direct insert: idempotent on reload; audited by trigger).
INSERT INTO metrics.excluded_addresses (value)
VALUES ('manifest1hj5fveer5cjtn4wd6wstzugjfdxzl0xp8ws9ct'),
       ('manifest1afk9zr2hn2jsac63h4hm60vl9z3e5u69gndzf7c99cqge3vzwjzsfmy9qj'),
       ('manifest1wxjfftrc0emj5f7ldcvtpj05lxtz3t2npghwsf'),
       ('manifest1j3mqe0zq5k9gk6hz3ss0ahr2svz6n9w4cfl6xh')
ON CONFLICT (value) DO NOTHING;

-- Partitions for the coming months, as the daily maintenance would.
SELECT count(*) FROM ingest.run_maintenance();
