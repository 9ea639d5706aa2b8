-- Which nodes count as GPU nodes is data, not code: a node name matching a pattern
-- (ILIKE) takes that pattern's class; the lowest priority wins; no match means cpu.
-- Short accelerator names (t4, l40) are left out of the defaults on purpose: as bare
-- substrings they match ordinary node names ("host4", "pool40").
CREATE TABLE sessions.node_classes (
    pattern    text PRIMARY KEY CHECK (pattern <> ''),
    node_class text NOT NULL CHECK (node_class IN ('gpu', 'cpu')),
    priority   integer NOT NULL DEFAULT 100
);
COMMENT ON TABLE sessions.node_classes IS
    'Node name patterns (ILIKE) → gpu/cpu; lowest priority wins, unmatched nodes are cpu';

INSERT INTO sessions.node_classes (pattern, node_class) VALUES
    ('%a100%', 'gpu'),
    ('%h100%', 'gpu'),
    ('%h200%', 'gpu'),
    ('%v100%', 'gpu'),
    ('%gpu%', 'gpu');

-- The class of one node name: used by every query that splits GPU from CPU time.
CREATE FUNCTION sessions.node_class_of(p_node_name text)
RETURNS text
LANGUAGE sql
STABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT coalesce(
        (SELECT nc.node_class
           FROM sessions.node_classes nc
          WHERE p_node_name ILIKE nc.pattern
          ORDER BY nc.priority, length(nc.pattern) DESC, nc.pattern
          LIMIT 1),
        'cpu');
END;
COMMENT ON FUNCTION sessions.node_class_of(text) IS
    'gpu or cpu for a node name, from sessions.node_classes (unmatched → cpu)';
REVOKE ALL ON FUNCTION sessions.node_class_of(text) FROM PUBLIC;
