"""The right status when PostgreSQL goes away (issue 12.4), over real HTTP: 503 with
``Retry-After`` for a server that is shutting down, on ``/rpc`` and on remote write, counted
in ``/metrics``; and a function that answers 503 on purpose runs once, not once per retry."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from api.ingest.encode import V1_HEADERS, Series, write_request_v1
from api.migrate import migrate
from api.pgcluster import ThrowawayCluster
from tests.api.apiserver import ApiServer, apply_rpc_fixture, running_api_server
from tests.pgfixtures import ROOT, DbInfo

ADVISORY_RUNS = ("select count(*) from pg_locks where locktype = 'advisory'"
                 " and classid = 7503 and objsubid = 2")


def test_a_function_raising_pt503_runs_once(api_server: ApiServer) -> None:
    before = int(api_server.db.psql(ADVISORY_RUNS))
    with api_server.client() as client:
        r = client.get("/rpc/unavailable_on_purpose",
                       headers={"Accept-Profile": "test_api_v2"})
    assert (r.status_code, r.json()["code"], r.json()["message"]) == (
        503, "PT503", "come back later"
    )
    assert r.headers["retry-after"] == "1"
    assert int(api_server.db.psql(ADVISORY_RUNS)) == before + 1  # no retry of a planned 503


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[ThrowawayCluster]:
    cluster = ThrowawayCluster(ROOT / ".data" / f"unavailable-{tmp_path.name}")
    cluster.start()
    yield cluster
    cluster.remove()


async def _refused_as_starting_or_stopping(dsn: str) -> bool:
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.CannotConnectNowError:
        return True
    await conn.close()
    return False


def test_a_database_shutting_down_is_503_for_rpc_and_remote_write(
    own_cluster: ThrowawayCluster,
) -> None:
    own_cluster.createdb("app")
    db = DbInfo(own_cluster, "app")
    asyncio.run(migrate(own_cluster.dsn("app"), echo=lambda _line: None))
    apply_rpc_fixture(db)
    hour = int(datetime.now(UTC).replace(minute=0, second=0, microsecond=0).timestamp() * 1000)
    body = write_request_v1([Series({"__name__": "rw_shutdown"}, [(hour, 1.0)])])
    with running_api_server(db) as server, server.client() as client:
        # The schema cache listener keeps its connection: a smart shutdown waits for it, and
        # meanwhile the server refuses every new connection with 57P03. The API's pool has
        # none yet (it connects on use), so both requests below need a new one.
        own_cluster._run(["pg_ctl", "stop", "-W", "-m", "smart", "-D",
                          str(own_cluster.datadir)], check=True)
        refused = False
        for _ in range(200):  # until the postmaster is in its shutdown state
            refused = asyncio.run(_refused_as_starting_or_stopping(own_cluster.dsn("app")))
            if refused:
                break
        assert refused
        r = client.get("/rpc/add", params={"a": 1})
        assert (r.status_code, r.json()["code"]) == (503, "57P03"), r.text
        assert r.headers["retry-after"] == "1"
        w = httpx.post(f"{server.base_url}/api/v1/write", content=body, timeout=30,
                       headers={**V1_HEADERS,
                                "Authorization": f"Bearer {server.token('writer', sub='w')}"})
        assert (w.status_code, w.json()["code"]) == (503, "57P03"), w.text
        assert w.headers["retry-after"] == "1"
        metrics = client.get("/metrics").text
        counted = re.search(r"^metrics_rpc_db_unavailable_total (\S+)$", metrics, re.M)
        assert counted is not None and float(counted.group(1)) == 2.0
