"""``metrics-rpc dev``, as a new user runs it: up, answering, demo data, and a clean stop
however it is stopped (Ctrl-C, ``kill``, SIGHUP), or picked up after it was killed outright.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.pgcluster import ThrowawayCluster, free_port
from tests.pgfixtures import ROOT


class Dev:
    """One ``metrics-rpc dev`` process on a free port."""

    def __init__(self, data_dir: Path, *args: str, port_in_env: bool = False) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PGRST_", "METRICS_RPC_"))}
        self.port = free_port()
        if port_in_env:
            env["PGRST_SERVER_PORT"] = str(self.port)
        else:
            args = ("--port", str(self.port), *args)
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api", "dev", "--data-dir", str(data_dir), *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.output = ""

    def wait_ready(self, timeout: float = 120) -> None:
        """Until /ready answers 200 (the schema cache is loaded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"dev exited early:\n{self.stop()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base}/ready", timeout=5).status_code == 200:
                    return
            time.sleep(0.25)  # poll interval
        raise AssertionError(f"{self.base} was not ready within {timeout}s")

    def stop(self, signum: int = signal.SIGINT) -> str:
        """Send ``signum``, wait for the exit, return everything dev printed."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            out, _ = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        self.output += out or ""
        return self.output


def postgres_processes(data_dir: Path) -> list[int]:
    """PIDs of the PostgreSQL server processes running on ``data_dir``'s cluster."""
    pgdata = str(ThrowawayCluster(data_dir / "pg").datadir).encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
                if pgdata in cmdline and any(arg.endswith(b"postgres") for arg in cmdline[:1]):
                    pids.append(int(entry.name))
    return pids


@pytest.fixture
def data_dir(cluster_dir: Path) -> Path:
    return cluster_dir  # dev keeps its cluster in DATA_DIR/pg


def test_dev_serves_demo_data_and_stops_postgres_on_ctrl_c(data_dir: Path) -> None:
    dev = Dev(data_dir)
    try:
        dev.wait_ready()
        root = httpx.get(f"{dev.base}/")
        assert root.status_code == 200
        assert "/rpc/get_agg_fdv" in root.json()["paths"]
        fdv = httpx.get(f"{dev.base}/rpc/get_agg_fdv", params={"p_schema": "mainnet",
                                                               "p_interval": "1 day"})
        assert fdv.status_code == 200, fdv.text
        assert len(fdv.json()) >= 6, "a week of demo data gives a value per day"
        runtime = httpx.get(f"{dev.base}/rpc/get_runtime_by_user", params={"p_limit": "3"})
        assert runtime.status_code == 200, runtime.text
        assert len(runtime.json()) == 3
        assert postgres_processes(data_dir)
    finally:
        output = dev.stop(signal.SIGINT)
    assert "Writer token" in output
    assert "curl" in output
    assert "Traceback" not in output, output
    assert dev.process.returncode == 0, output
    assert postgres_processes(data_dir) == [], "PostgreSQL still running after Ctrl-C"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_kill_stops_dev_and_its_postgres(data_dir: Path, signum: int) -> None:
    dev = Dev(data_dir, "--no-demo")
    try:
        dev.wait_ready()
        assert postgres_processes(data_dir)
    finally:
        output = dev.stop(signum)
    assert "stopping PostgreSQL" in output
    assert "Traceback" not in output, output
    assert dev.process.returncode == 0, output
    assert postgres_processes(data_dir) == [], "PostgreSQL still running after kill"


def test_postgres_left_by_a_killed_dev_is_restarted_cleanly(data_dir: Path) -> None:
    crashed = Dev(data_dir, "--no-demo")
    crashed.wait_ready()
    crashed.stop(signal.SIGKILL)  # no chance to clean up
    left = postgres_processes(data_dir)
    assert left, "SIGKILL leaves PostgreSQL running: the case this test is about"

    dev = Dev(data_dir, "--no-demo")
    try:
        dev.wait_ready()
        assert httpx.get(f"{dev.base}/rpc/get_excluded_addresses").status_code == 200
        assert not set(left) & set(postgres_processes(data_dir)), "a fresh server, not the old"
    finally:
        output = dev.stop(signal.SIGTERM)
    assert "still running" in output
    assert "restarting it cleanly" in output
    assert postgres_processes(data_dir) == [], output


def test_a_second_dev_on_the_same_data_dir_is_refused(data_dir: Path) -> None:
    dev = Dev(data_dir, "--no-demo")
    try:
        dev.wait_ready()
        second = Dev(data_dir, "--no-demo")
        output, _ = second.process.communicate(timeout=60)
        assert httpx.get(f"{dev.base}/live").status_code == 200, "the first one is untouched"
    finally:
        first_output = dev.stop(signal.SIGTERM)
    assert second.process.returncode == 2, output
    assert "another metrics-rpc dev" in output
    assert postgres_processes(data_dir) == [], first_output


def test_dev_listens_on_pgrst_server_port(data_dir: Path) -> None:
    dev = Dev(data_dir, "--no-demo", port_in_env=True)
    try:
        dev.wait_ready()
    finally:
        output = dev.stop(signal.SIGTERM)
    assert f"running on http://localhost:{dev.port}" in output
