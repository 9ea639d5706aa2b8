"""Databases for the tests: one throwaway cluster per test run, one migrated template,
and fresh databases cloned from it with pytest-postgresql's ``DatabaseJanitor``.

Kept out of conftest.py so the pgTAP collector and the fixtures share one cluster.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from pytest_postgresql.janitor import DatabaseJanitor

from api.migrate import migrate
from api.pgcluster import SUPERUSER, ThrowawayCluster

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DB = "metrics_rpc_template"
PGTAP_SEARCH_PATH = "public,tap"


@dataclass
class DbInfo:
    """A database of the test cluster, with the DSNs its users connect with."""

    cluster: ThrowawayCluster
    name: str
    janitor: DatabaseJanitor | None = field(default=None, repr=False)

    @property
    def port(self) -> int:
        return self.cluster.port

    @property
    def host(self) -> str:
        return self.cluster.host

    @property
    def dsn(self) -> str:
        """Superuser connection (set-up and assertions behind the API's back)."""
        return self.cluster.dsn(self.name)

    @property
    def authenticator_dsn(self) -> str:
        """What the API connects with, as in production."""
        return self.cluster.dsn(self.name, user="authenticator")

    def psql(self, sql: str, *, user: str = SUPERUSER) -> str:
        """Run SQL with psql (stops at the first error) and return its unaligned output."""
        result = subprocess.run(
            ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", self.host,
             "-p", str(self.port), "-U", user, "-d", self.name, "-c", sql],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def drop(self) -> None:
        if self.janitor is not None:
            self.janitor.drop()
            self.janitor = None


class TestDatabases:
    """Lazily started: the first test that needs a database pays for the cluster."""

    def __init__(self) -> None:
        self._cluster: ThrowawayCluster | None = None
        self._template_ready = False
        self._counter = itertools.count(1)

    @property
    def cluster(self) -> ThrowawayCluster:
        if self._cluster is None:
            folder = ROOT / ".data" / f"test-{os.getpid()}"
            self._cluster = ThrowawayCluster(folder).start()
        return self._cluster

    def template(self) -> str:
        if not self._template_ready:
            cluster = self.cluster
            if not cluster.database_exists(TEMPLATE_DB):
                cluster.createdb(TEMPLATE_DB)
            info = DbInfo(cluster, TEMPLATE_DB)
            # pgTAP first, in its own schema, so the migrations' default privileges
            # (nothing granted to PUBLIC) do not apply to it.
            info.psql(
                "create schema if not exists tap; grant usage on schema tap to public;"
                "create extension if not exists pgtap schema tap;"
            )
            asyncio.run(migrate(cluster.dsn(TEMPLATE_DB), echo=lambda _line: None))
            self._template_ready = True
        return TEMPLATE_DB

    def make_db(self, prefix: str = "t", *, empty: bool = False) -> DbInfo:
        """A fresh database cloned from the migrated template (``empty``: from template0)."""
        template = None if empty else self.template()
        cluster = self.cluster
        name = f"{prefix}_{os.getpid()}_{next(self._counter)}"
        janitor = DatabaseJanitor(
            user=SUPERUSER, host=cluster.host, port=cluster.port,
            dbname=name, template_dbname=template,
        )
        janitor.init()
        info = DbInfo(cluster, name, janitor)
        return info

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.remove()
            self._cluster = None


DATABASES = TestDatabases()
