-- A backstop behind METRICS_RPC_SEND_TIMEOUT: a session of an API role that sits idle
-- inside a transaction (e.g. a streamed result whose client stopped reading) is ended by
-- PostgreSQL, releasing its locks and snapshot. Well above the send timeout (default 5s)
-- so the app cuts such streams first; remote write never waits on the client mid-transaction.
-- Cluster-wide like the statement timeouts (0060), applied by the API on every role switch.
ALTER ROLE web_anon SET idle_in_transaction_session_timeout = '30s';
ALTER ROLE writer SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE authenticator SET idle_in_transaction_session_timeout = '60s';
