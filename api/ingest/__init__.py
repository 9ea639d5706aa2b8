"""Prometheus remote write (``POST /api/v1/write``, 1.0 and 2.0) and ``metrics-rpc backfill``.

``decode`` turns a request body into the four arrays of ``ingest.write_samples`` (pure),
``remote_write`` is the route, ``encode`` builds request bodies (backfill, tests, bench).
"""
