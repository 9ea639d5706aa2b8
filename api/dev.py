"""``metrics-rpc dev``: the embedded default.

A throwaway PostgreSQL under ``.data/`` (kept between runs until ``make clean``),
migrated, with demo data, and the API on http://localhost:3000 (``--port`` or
``PGRST_SERVER_PORT`` choose another). Ctrl-C, SIGTERM and SIGHUP stop the server and
then PostgreSQL. A PostgreSQL left running by a run that was killed outright is restarted
cleanly, with a line saying so; a data folder that a live ``dev`` is using is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from api.config import load_settings
from api.demo import load_demo
from api.migrate import migrate
from api.pgcluster import ThrowawayCluster
from api.tokens import mint_token, new_secret

DEV_DB = "metrics"


class DevError(RuntimeError):
    """``dev`` cannot start; the message says why and what to do."""


class _Stop(BaseException):  # like KeyboardInterrupt: no `except Exception` may eat it
    """SIGTERM or SIGHUP outside the server: unwind so that PostgreSQL is stopped."""


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP end ``dev`` as Ctrl-C does, whatever it is doing.

    While uvicorn serves, it handles SIGTERM itself (graceful shutdown) and raises it
    again once done; SIGHUP, which uvicorn leaves alone, is turned into that SIGTERM.
    """

    def stop(signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP and signal.getsignal(signal.SIGTERM) is not stop:
            signal.raise_signal(signal.SIGTERM)  # uvicorn is serving: shut it down gracefully
            return
        raise _Stop

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _dev_lock(data_dir: Path) -> Iterator[None]:
    """One ``dev`` per data folder: ``dev.pid`` names the live one."""
    data_dir.mkdir(parents=True, exist_ok=True)
    pidfile = data_dir / "dev.pid"
    with contextlib.suppress(OSError, ValueError):
        other = int(pidfile.read_text())
        if other != os.getpid() and _is_dev_process(other):
            raise DevError(
                f"another metrics-rpc dev (pid {other}) is using {data_dir}: "
                "stop it first, or pass another --data-dir"
            )
    pidfile.write_text(str(os.getpid()))
    try:
        yield
    finally:
        pidfile.unlink(missing_ok=True)


def _is_dev_process(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"dev" in cmdline


def _start_cluster(cluster: ThrowawayCluster) -> None:
    if cluster.is_running():
        # its dev is gone (we hold the lock): it may run with another port or settings
        print(f"PostgreSQL from an earlier run that did not stop is still running in "
              f"{cluster.folder}: restarting it cleanly ...", flush=True)
        cluster.stop()
    else:
        print(f"starting PostgreSQL in {cluster.folder} ...", flush=True)
    cluster.start()


def _dev_secret(folder: Path) -> str:
    path = folder / "jwt_secret"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(new_secret())
        path.chmod(0o600)
    return path.read_text().strip()


def _banner(base: str, writer_token: str) -> str:
    return f"""
metrics-rpc is running on {base}  (Ctrl-C or kill stops it and its PostgreSQL)

  Dashboard:          {base}/dashboard
  OpenAPI document:   curl {base}/
  Interactive docs:   {base}/docs
  Latest FDV:         curl '{base}/rpc/get_latest_fdv?p_schema=mainnet'
  Circulating supply: curl '{base}/rpc/get_agg_circulating_supply?p_interval=1%20day'
  Validator map:      curl '{base}/rpc/get_latest_geo_coordinates?limit=5'
  Runtime by user:    curl '{base}/rpc/get_runtime_by_user?p_limit=5'
  As CSV:             curl -H 'Accept: text/csv' '{base}/rpc/get_all_latest_mainnet_metrics'

  Writer token (valid 24 h; `metrics-rpc token --role writer --sub NAME` makes more):
    export TOKEN={writer_token}
  Add an excluded address:
    curl -X POST {base}/rpc/add_excluded_address -H "Authorization: Bearer $TOKEN" \\
         -H 'Content-Type: application/json' -d '{{"p_value": "manifest1demo..."}}'
"""


def run_dev(data_dir: Path, port: int | None = None, demo: bool = True) -> int:
    """Serve until Ctrl-C, SIGTERM or SIGHUP; PostgreSQL is stopped in every case."""
    from api.server import serve  # the app stack is only imported when serving

    cluster = ThrowawayCluster(data_dir / "pg")
    with _stop_on_signals(), _dev_lock(data_dir):
        try:
            _start_cluster(cluster)
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
                # --port wins; else PGRST_SERVER_PORT as the environment has it (3000)
                **({"PGRST_SERVER_PORT": str(port)} if port is not None else {}),
            }
            settings = load_settings(env)
            token = mint_token(settings, "writer", sub="dev", expires_in=86400)
            print(_banner(f"http://localhost:{settings.server_port}", token), flush=True)
            serve(settings)
        except (KeyboardInterrupt, _Stop):
            pass
        finally:
            # a second signal must not cut the shutdown short
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)
            print("stopping PostgreSQL ...", flush=True)
            cluster.stop()
    return 0
