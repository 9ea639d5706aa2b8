-- CASCADE: the repeatable helper sessions.sessions_in_range (sql/functions) reads this
-- table; the migrator re-creates it when the table comes back.
DROP TABLE IF EXISTS sessions.sessions CASCADE;
