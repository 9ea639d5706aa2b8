"""A real ``pgbouncer`` in transaction pooling mode in front of a test cluster, on a free
loopback port, started and stopped by the test (tests and bench)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

from api.pgcluster import free_port, wait_for_port

INI = """\
[databases]
* = host={pg_host} port={pg_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/userlist.txt
pool_mode = transaction
default_pool_size = {server_connections}
max_client_conn = 500
ignore_startup_parameters = extra_float_digits
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
"""


@contextlib.contextmanager
def running_pgbouncer(
    folder: Path, pg_host: str, pg_port: int, *, server_connections: int = 1,
) -> Iterator[int]:
    """pgbouncer on a free port (yielded) for the block. ``server_connections`` per
    database and user: with 1, every client connection shares one server session, so
    anything a transaction leaves in the session shows up in the next one."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (folder / "userlist.txt").write_text('"authenticator" ""\n"postgres" ""\n')
    (folder / "pgbouncer.ini").write_text(INI.format(
        pg_host=pg_host, pg_port=pg_port, port=port, folder=folder,
        server_connections=server_connections,
    ))
    command = [binary, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # pgbouncer refuses to run as root
        shutil.chown(folder, "postgres", "postgres")
        for name in ("userlist.txt", "pgbouncer.ini"):
            shutil.chown(folder / name, "postgres", "postgres")
        command = ["runuser", "-u", "postgres", "--", *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port("127.0.0.1", port, timeout=15)
        yield port
    finally:
        # runuser may not pass the signal on: stop pgbouncer itself, by its own pid file
        with contextlib.suppress(OSError, ValueError):
            os.kill(int((folder / "pgbouncer.pid").read_text()), signal.SIGTERM)
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
