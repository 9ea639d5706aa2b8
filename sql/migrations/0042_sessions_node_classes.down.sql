-- CASCADE: repeatable helpers in sql/functions call node_class_of.
DROP FUNCTION IF EXISTS sessions.node_class_of(text) CASCADE;
DROP TABLE IF EXISTS sessions.node_classes;
