-- A series is (schema, name, labels) where labels exclude the big-number value labels
-- (supply, excluded_supply, amount): those change every block, and keeping them out of
-- the identity means a new supply value is a new sample, not a new series.
CREATE TABLE metrics.series (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schema text  NOT NULL,
    name   text  NOT NULL,
    labels jsonb NOT NULL DEFAULT '{}',
    UNIQUE (schema, name, labels)
);

COMMENT ON TABLE metrics.series IS
    'Series identity: schema, metric name and labels minus supply/excluded_supply/amount.';
