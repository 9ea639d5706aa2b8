"""Data collectors: clients of our own API that observe something and POST it to ``/rpc``.

They never talk to the database; ``METRICS_RPC_API_URL`` and ``METRICS_RPC_TOKEN`` (a writer
JWT) are all they need. ``metrics-rpc collect <name>`` runs one (see ``api.cli``).
"""
