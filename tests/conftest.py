"""Shared fixtures and the pgTAP collector.

- ``pg_cluster``: the run's throwaway PostgreSQL (``api.pgcluster``), removed at the end.
- ``template_db``: a database with every migration and function file applied, and pgTAP.
- ``make_db()``: a fresh database cloned from the template (pytest-postgresql's janitor).
- ``db``: one fresh database per test module.
- ``cluster_dir``: a folder for a test's own cluster in ``cluster_dir / "pg"``.
- ``tests/sql/*.sql`` files are collected as pgTAP test items (see ``PgTapFile``).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from api.pgcluster import SUPERUSER, ThrowawayCluster
from tests.pgfixtures import DATABASES, PGTAP_SEARCH_PATH, ROOT, DbInfo

SQL_TESTS = Path(__file__).resolve().parent / "sql"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    DATABASES.close()


@pytest.fixture(scope="session")
def pg_cluster() -> ThrowawayCluster:
    return DATABASES.cluster


@pytest.fixture(scope="session")
def template_db() -> str:
    return DATABASES.template()


@pytest.fixture(scope="session")
def make_db() -> Callable[..., DbInfo]:
    return DATABASES.make_db


@pytest.fixture(scope="module")
def db() -> Iterator[DbInfo]:
    info = DATABASES.make_db()
    yield info
    info.drop()


_CLUSTER_DIRS = itertools.count(1)


@pytest.fixture
def cluster_dir() -> Iterator[Path]:
    """A folder for a test's own PostgreSQL cluster (in ``cluster_dir / "pg"``), removed
    afterwards with whatever still runs there.

    Under ``.data/``, not pytest's ``tmp_path``: every pytest session that starts on the
    machine makes ``/tmp/pytest-of-root`` private again (0700), which would lock out the
    ``postgres`` user that a root run starts the server as, mid-test.
    """
    # short: the server's Unix socket path inside it has a 107-byte limit
    folder = ROOT / ".data" / f"t{os.getpid()}-{next(_CLUSTER_DIRS)}"
    shutil.rmtree(folder, ignore_errors=True)
    yield folder
    ThrowawayCluster(folder / "pg").remove()
    shutil.rmtree(folder, ignore_errors=True)


# --- pgTAP files as test items -----------------------------------------------------------
_TAP_RESULT = re.compile(r"^(not ok|ok)\b")


class PgTapError(Exception):
    def __init__(self, output: str) -> None:
        super().__init__(output)
        self.output = output


class PgTapItem(pytest.Item):
    """One pgTAP file, run with psql in a database cloned from the template.

    Every file runs in its own transaction and rolls back, so all files share one clone.
    """

    _shared_db: DbInfo | None = None

    def runtest(self) -> None:
        if PgTapItem._shared_db is None:
            PgTapItem._shared_db = DATABASES.make_db("pgtap")
        database = PgTapItem._shared_db
        env = {**os.environ, "PGOPTIONS": f"-c search_path={PGTAP_SEARCH_PATH}"}
        result = subprocess.run(
            ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", database.host,
             "-p", str(database.port), "-U", SUPERUSER, "-d", database.name,
             "-f", str(self.path)],
            capture_output=True, text=True, env=env, cwd=self.path.parent, check=False,
            timeout=600,
        )
        output = (result.stdout + result.stderr).strip()
        lines = output.splitlines()
        results = [line for line in lines if _TAP_RESULT.match(line)]
        failed = [line for line in results if line.startswith("not ok")]
        plan = next((line for line in lines if re.match(r"^1\.\.\d+$", line)), None)
        if result.returncode != 0:
            raise PgTapError(f"psql exited with {result.returncode}\n{output}")
        if plan is None or not results:
            raise PgTapError(f"no TAP plan or results\n{output}")
        if failed or "# Looks like" in output:
            raise PgTapError(output)
        if int(plan[3:]) != len(results):
            raise PgTapError(f"planned {plan[3:]} tests, ran {len(results)}\n{output}")

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, PgTapError):
            return f"pgTAP {self.path.name} failed:\n{excinfo.value.output}"
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"pgTAP {self.path.name}"


class PgTapFile(pytest.File):
    def collect(self) -> Iterator[PgTapItem]:
        yield PgTapItem.from_parent(self, name=self.path.stem)


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if (
        file_path.suffix == ".sql"
        and file_path.parent == SQL_TESTS
        and not file_path.name.startswith("_")
    ):
        return PgTapFile.from_parent(parent, path=file_path)
    return None
