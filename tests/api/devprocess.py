"""``metrics-rpc dev`` as a subprocess, as a user starts it: for tests/api/test_dev.py and
the README examples (tests/api/test_readme.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from api.pgcluster import ThrowawayCluster, free_port
from tests.pgfixtures import ROOT


class Dev:
    """One ``metrics-rpc dev`` process on a free port; what it prints goes to a file
    (``output``), readable while it runs."""

    def __init__(self, data_dir: Path, *args: str, port_in_env: bool = False) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PGRST_", "METRICS_RPC_"))}
        self.data_dir = data_dir
        self.port = free_port()
        if port_in_env:
            env["PGRST_SERVER_PORT"] = str(self.port)
        else:
            args = ("--port", str(self.port), *args)
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the process
            prefix="metrics-rpc-dev-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api", "dev", "--data-dir", str(data_dir), *args],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._final: str | None = None  # the output, once dev has exited

    @property
    def output(self) -> str:
        if self._final is not None:
            return self._final
        return Path(self._log.name).read_text(errors="replace")

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

    def wait(self, timeout: float = 60) -> str:
        """Until dev exits by itself; everything it printed."""
        self.process.wait(timeout=timeout)
        return self._close()

    def stop(self, signum: int = signal.SIGINT) -> str:
        """Send ``signum``, wait for the exit, return everything dev printed."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self._close()

    def _close(self) -> str:
        if self._final is None:
            self._final = self.output
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
        return self._final


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
