"""The throwaway PostgreSQL works for root (the suite itself) and for a normal user."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from api.pgcluster import _LOWEST_PORT, free_port
from tests.pgfixtures import ROOT

_SCRIPT = """
import sys
from pathlib import Path
from pgcluster import ThrowawayCluster
cluster = ThrowawayCluster(Path(sys.argv[1])).start()
cluster.createdb("probe")
print(cluster.database_exists("probe"), cluster.is_running())
cluster.remove()
print(Path(sys.argv[1]).exists())
"""


# api/pgcluster.py is stdlib-only, so the system Python can run it as another user
# (the project's virtualenv may sit under a home folder that user cannot enter). A copy
# in that user's own folder is what it imports: the checkout may be one it cannot list
# (a clone into `mktemp -d`, mode 0700), and Python does not import from such a folder.
SYSTEM_PYTHON = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3")
                      if os.access(p, os.X_OK)), sys.executable)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_normal_user_gets_a_cluster() -> None:
    user = pwd.getpwnam("nobody")
    # a folder of its own directly under /tmp: pytest's tmp_path is private to root
    folder = Path(tempfile.mkdtemp(prefix="metrics-rpc-nobody-"))
    os.chown(folder, user.pw_uid, user.pw_gid)
    try:
        result = _run_as_nobody(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "False"]


def _run_as_nobody(folder: Path) -> subprocess.CompletedProcess[str]:
    code = folder / "code"
    code.mkdir()
    shutil.copy(ROOT / "api" / "pgcluster.py", code / "pgcluster.py")
    user = pwd.getpwnam("nobody")
    for path in (code, code / "pgcluster.py"):
        os.chown(path, user.pw_uid, user.pw_gid)
    return subprocess.run(
        ["runuser", "-u", "nobody", "--", SYSTEM_PYTHON, "-c", _SCRIPT, str(folder / "pg")],
        capture_output=True, text=True, cwd=folder, timeout=120, check=False,
        env={"PATH": os.environ["PATH"], "HOME": str(folder), "PYTHONPATH": str(code)},
    )


def test_cluster_is_reused_between_starts(cluster_dir: Path) -> None:
    from api.pgcluster import ThrowawayCluster

    first = ThrowawayCluster(cluster_dir / "pg").start()
    try:
        first.createdb("kept")
        first.stop()
        assert not first.is_running()
        second = ThrowawayCluster(cluster_dir / "pg").start()
        assert second.port == first.port
        assert second.database_exists("kept")
    finally:
        first.remove()


def test_free_ports_are_distinct_bindable_and_outside_the_ephemeral_range() -> None:
    """Servers started side by side each get their own port, and no outgoing connection
    (whose local port the kernel takes from the ephemeral range) can take one first."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    if low > _LOWEST_PORT:  # (a range reaching down to there leaves the kernel's choice)
        assert all(_LOWEST_PORT <= port < low for port in ports)
    for port in ports[:20]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))
