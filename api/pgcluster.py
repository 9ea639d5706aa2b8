"""The one way to get a throwaway PostgreSQL: used by ``metrics-rpc dev``, the tests and bench.

A cluster lives in a project-local folder, listens on 127.0.0.1 at a free port (and on a
Unix socket inside its folder), trusts local connections (it is throwaway) and has the
superuser ``postgres``. PostgreSQL refuses to run as root, so when we are root the server
binaries run as the ``postgres`` system user on a folder it owns.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pwd
import random
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path

SUPERUSER = "postgres"
_SERVER_USER = "postgres"  # system account the server runs as when we are root


class ClusterError(RuntimeError):
    """The throwaway cluster could not be created or started; the message says why."""


def find_bindir() -> Path:
    """Directory of the PostgreSQL server binaries (``initdb``, ``pg_ctl``)."""
    on_path = shutil.which("pg_ctl")
    if on_path and (Path(on_path).resolve().parent / "initdb").exists():
        return Path(on_path).resolve().parent
    for version in ("17", "16", "15"):
        path = Path(f"/usr/lib/postgresql/{version}/bin")
        if (path / "initdb").exists():
            return path
    raise ClusterError(
        "PostgreSQL server binaries not found: install postgresql (15 or newer) "
        "or put its bin directory on PATH"
    )


_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()
_LOWEST_PORT = 10000


@functools.cache
def _ephemeral_low() -> int:
    """First port of the kernel's ephemeral range (outgoing connections, ``bind(0)``)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _kernel_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port on 127.0.0.1 that is free now and that this process has not handed out before.

    Ports come from below the kernel's ephemeral range, so no outgoing connection and no
    ``bind(0)`` elsewhere takes one between now and the moment its server binds it; and
    never the same one twice, so three calls in a row give three servers three ports (the
    kernel's ``bind(0)`` may give the same port twice: a Caddy once got its site and admin
    addresses on one port).
    """
    highest = _ephemeral_low() - 1
    with _handed_out_lock:
        for _ in range(1000):
            if highest >= _LOWEST_PORT:
                port = random.randint(_LOWEST_PORT, highest)  # noqa: S311 (spreads, not secrets)
            else:  # an ephemeral range reaching down to 10000: the kernel's choice
                port = _kernel_port()
            if port not in _handed_out and _bindable(port):
                _handed_out.add(port)
                return port
    raise ClusterError("no free TCP port on 127.0.0.1")


class ThrowawayCluster:
    """A PostgreSQL cluster in ``folder``: ``start()``, ``stop()``, ``remove()``.

    ``start()`` reuses a cluster already initialised in the folder (and one already
    running there), so ``metrics-rpc dev`` keeps its data between runs.
    """

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder.resolve()
        self.datadir = self.folder / "pgdata"
        self.sockdir = self.folder / "socket"
        self.logfile = self.folder / "postgres.log"
        self._port = port
        self._bindir = find_bindir()
        self._as_root = os.geteuid() == 0

    # --- public surface ---------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            self._port = self._recorded_port() or free_port()
        return self._port

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def dsn(self, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        return f"postgresql://{user}@{self.host}:{self.port}/{dbname}"

    def is_running(self) -> bool:
        if not (self.datadir / "PG_VERSION").exists():
            return False
        result = self._run(["pg_ctl", "status", "-D", str(self.datadir)], check=False)
        return result.returncode == 0

    def start(self) -> ThrowawayCluster:
        if not (self.datadir / "PG_VERSION").exists():
            self._init()
        if self.is_running():
            return self
        self._write_port(self.port)
        options = (
            f"-p {self.port} -k {self.sockdir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200 -c shared_buffers=256MB"
        )
        result = self._run(
            ["pg_ctl", "start", "-w", "-t", "60", "-D", str(self.datadir),
             "-l", str(self.logfile), "-o", options],
            check=False,
        )
        if result.returncode != 0:
            raise ClusterError(f"PostgreSQL did not start: {self._log_tail()}")
        return self

    def stop(self, mode: str = "fast") -> None:
        if self.is_running():
            self._run(["pg_ctl", "stop", "-w", "-m", mode, "-D", str(self.datadir)], check=False)

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def createdb(self, name: str, template: str | None = None) -> None:
        cmd = ["createdb", "-h", self.host, "-p", str(self.port), "-U", SUPERUSER]
        if template:
            cmd += ["-T", template]
        self._run([*cmd, name], check=True)

    def database_exists(self, name: str) -> bool:
        out = self._run(
            ["psql", "-h", self.host, "-p", str(self.port), "-U", SUPERUSER, "-d", "postgres",
             "-XtAc", f"select 1 from pg_database where datname = '{name}'"],
            check=True,
        )
        return out.stdout.strip() == "1"

    def make_standby(self, folder: Path) -> ThrowawayCluster:
        """A streaming standby of this running cluster in ``folder`` (``pg_basebackup -R``:
        it follows this cluster once started); not started yet. ``--checkpoint=fast``: the
        default spread checkpoint makes the copy wait minutes on a busy primary."""
        standby = ThrowawayCluster(folder)
        standby.folder.mkdir(parents=True)
        standby.sockdir.mkdir()
        if self._as_root:
            entry = pwd.getpwnam(_SERVER_USER)
            for path in (standby.folder, standby.sockdir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        result = self._run(
            ["pg_basebackup", "-h", self.host, "-p", str(self.port), "-U", SUPERUSER,
             "-D", str(standby.datadir), "-R", "-X", "stream", "--no-sync",
             "--checkpoint=fast"],
            check=False,
        )
        if result.returncode != 0:
            raise ClusterError(f"pg_basebackup failed: {result.stderr.strip()}")
        return standby

    def __enter__(self) -> ThrowawayCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- internals ----------------------------------------------------------------------
    def _init(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.sockdir.mkdir(exist_ok=True)
        if self._as_root:
            entry = pwd.getpwnam(_SERVER_USER)
            for path in (self.folder, self.sockdir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            # the postgres user must be able to reach the folder through its parents
            for parent in self.folder.parents:
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o001)
        result = self._run(
            ["initdb", "-D", str(self.datadir), "-U", SUPERUSER, "-A", "trust",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            check=False,
        )
        if result.returncode != 0:
            raise ClusterError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")

    def _run(self, argv: Sequence[str], check: bool) -> subprocess.CompletedProcess[str]:
        tool = argv[0]
        binary = self._bindir / tool
        cmd = [str(binary) if binary.exists() else tool, *argv[1:]]
        if self._as_root and tool in ("initdb", "pg_ctl", "pg_basebackup"):
            cmd = ["runuser", "-u", _SERVER_USER, "--", *cmd]
        env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
        result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if check and result.returncode != 0:
            raise ClusterError(f"{tool} failed: {result.stderr.strip()}")
        return result

    def _write_port(self, port: int) -> None:
        portfile = self.folder / "port"
        portfile.write_text(str(port))

    def _recorded_port(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int((self.folder / "port").read_text())
        return None

    def _log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.logfile.read_text().splitlines()[-lines:])
        return "(no log)"


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")
