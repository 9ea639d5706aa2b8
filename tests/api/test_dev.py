"""``metrics-rpc dev``, as a new user runs it: up, answering, demo data, clean Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from api.pgcluster import ThrowawayCluster, free_port
from tests.pgfixtures import ROOT


def _wait_for(url: str, process: subprocess.Popen[str], timeout: float = 120) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"dev exited early:\n{output}")
        try:
            response = httpx.get(url, timeout=5)
        except httpx.TransportError:
            pass
        else:
            if response.status_code != 503:  # 503: listening, schema cache not loaded yet
                return response
        time.sleep(0.25)
    raise AssertionError(f"{url} did not answer within {timeout}s")


def test_dev_serves_demo_data_and_stops_postgres_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PGRST_", "METRICS_RPC_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "dev", "--port", str(port), "--data-dir", str(data_dir)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    cluster = ThrowawayCluster(data_dir / "pg")
    try:
        base = f"http://127.0.0.1:{port}"
        root = _wait_for(f"{base}/", process)
        assert root.status_code == 200
        assert "/rpc/get_agg_fdv" in root.json()["paths"]

        fdv = httpx.get(f"{base}/rpc/get_agg_fdv", params={"p_schema": "mainnet",
                                                          "p_interval": "1 day"})
        assert fdv.status_code == 200, fdv.text
        assert len(fdv.json()) >= 6, "a week of demo data gives a value per day"
        runtime = httpx.get(f"{base}/rpc/get_runtime_by_user", params={"p_limit": "3"})
        assert runtime.status_code == 200, runtime.text
        assert len(runtime.json()) == 3
        assert cluster.is_running()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        running = cluster.is_running()
        cluster.remove()
    assert "Writer token" in output
    assert "curl" in output
    assert "Traceback" not in output, output
    assert process.returncode == 0, output
    assert not running, "PostgreSQL still running after Ctrl-C"
