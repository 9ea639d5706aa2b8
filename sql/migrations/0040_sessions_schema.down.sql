-- CASCADE: the repeatable helpers of sql/functions/sessions live in this schema too.
DROP SCHEMA IF EXISTS sessions CASCADE;
