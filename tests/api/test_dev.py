"""``metrics-rpc dev``, as a new user runs it: up, answering, demo data, and a clean stop
however it is stopped (Ctrl-C, ``kill``, SIGHUP), or picked up after it was killed outright.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.api.devprocess import Dev, postgres_processes
from tests.pgfixtures import ROOT


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
        output = second.wait()
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


def test_make_run_passes_port_to_dev() -> None:
    result = subprocess.run(["make", "-n", "run", "PORT=3001"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert ".venv/bin/metrics-rpc dev --port 3001" in result.stdout
