"""Where ``/metrics`` is served, by the real ``metrics-rpc serve`` process: only on the
admin port when ``PGRST_ADMIN_SERVER_PORT`` is set, else on the main port."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx

from api.pgcluster import free_port
from tests.api import hardening_db as hardening
from tests.pgfixtures import ROOT, DbInfo


@contextlib.contextmanager
def metrics_rpc_serve(db: DbInfo, **env: str) -> Iterator[str]:
    """``metrics-rpc serve`` on a free port until the block ends; yields its base URL."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PGRST_", "METRICS_RPC_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "api", "serve"], cwd=ROOT,
        env={**clean, "PGRST_DB_URI": db.authenticator_dsn,
             "PGRST_JWT_SECRET": hardening.JWT_SECRET, "PGRST_DB_SCHEMAS": "api",
             "PGRST_SERVER_HOST": "127.0.0.1", "PGRST_SERVER_PORT": str(port),
             "METRICS_RPC_RATE_LIMITS": "off", **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "metrics-rpc serve did not become ready"
            time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_with_an_admin_port_metrics_is_only_there(hardening_db: DbInfo) -> None:
    admin_port = free_port()
    with metrics_rpc_serve(hardening_db, PGRST_ADMIN_SERVER_PORT=str(admin_port)) as url:
        main = httpx.get(f"{url}/metrics")
        admin = httpx.get(f"http://127.0.0.1:{admin_port}/metrics")
        admin_live = httpx.get(f"http://127.0.0.1:{admin_port}/live")
        main_live = httpx.get(f"{url}/live")
    assert main.status_code == 404
    assert main.json()["code"] == "PGRST125"
    assert admin.status_code == 200
    assert "metrics_rpc_db_pool_size" in admin.text
    assert admin_live.status_code == main_live.status_code == 200


def test_without_an_admin_port_metrics_is_on_the_main_port(hardening_db: DbInfo) -> None:
    with metrics_rpc_serve(hardening_db) as url:
        response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200
    assert "metrics_rpc_db_pool_size" in response.text
