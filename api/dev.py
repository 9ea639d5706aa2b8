"""``metrics-rpc dev``: the embedded default.

A throwaway PostgreSQL under ``.data/`` (reused between runs), migrated, with demo data,
and the API on http://localhost:3000. Ctrl-C stops the server and then PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from api.config import load_settings
from api.demo import load_demo
from api.migrate import migrate
from api.pgcluster import ThrowawayCluster
from api.tokens import mint_token, new_secret

DEV_DB = "metrics"


def _dev_secret(folder: Path) -> str:
    path = folder / "jwt_secret"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(new_secret())
        path.chmod(0o600)
    return path.read_text().strip()


def _banner(base: str, writer_token: str) -> str:
    return f"""
metrics-rpc is running on {base}  (Ctrl-C stops it and its PostgreSQL)

  Dashboard:          {base}/dashboard
  OpenAPI document:   curl {base}/
  Interactive docs:   {base}/docs
  Latest FDV:         curl '{base}/rpc/get_latest_fdv?p_schema=mainnet'
  Circulating supply: curl '{base}/rpc/get_agg_circulating_supply?p_interval=1%20day'
  Validator map:      curl '{base}/rpc/get_latest_geo_coordinates?limit=5'
  Runtime by user:    curl '{base}/rpc/get_runtime_by_user?p_limit=5'
  As CSV:             curl -H 'Accept: text/csv' '{base}/rpc/get_all_latest_mainnet_metrics'

  Writer token (valid 24 h; `metrics-rpc token --role writer` makes more):
    export TOKEN={writer_token}
  Add an excluded address:
    curl -X POST {base}/rpc/add_excluded_address -H "Authorization: Bearer $TOKEN" \\
         -H 'Content-Type: application/json' -d '{{"p_value": "manifest1demo..."}}'
"""


def run_dev(data_dir: Path, port: int, demo: bool = True) -> int:
    from api.server import serve  # the app stack is only imported when serving

    cluster = ThrowawayCluster(data_dir / "pg")
    print(f"starting PostgreSQL in {cluster.folder} ...", flush=True)
    cluster.start()
    try:
        if not cluster.database_exists(DEV_DB):
            cluster.createdb(DEV_DB)
        admin_dsn = cluster.dsn(DEV_DB)
        asyncio.run(migrate(admin_dsn))
        if demo:
            asyncio.run(load_demo(admin_dsn))
        env = {
            "PGRST_JWT_SECRET": _dev_secret(data_dir),
            "PGRST_SERVER_HOST": "127.0.0.1",
            "PGRST_SERVER_TIMING_ENABLED": "true",
            **os.environ,
            "PGRST_DB_URI": cluster.dsn(DEV_DB, user="authenticator"),
            "PGRST_SERVER_PORT": str(port),
        }
        settings = load_settings(env)
        token = mint_token(settings, "writer", sub="dev", expires_in=86400)
        print(_banner(f"http://localhost:{port}", token), flush=True)
        serve(settings)
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping PostgreSQL ...", flush=True)
        cluster.stop()
    return 0
