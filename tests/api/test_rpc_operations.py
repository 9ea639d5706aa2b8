"""Operations over real HTTP: statement timeouts, schema reload, DB outage and recovery,
transaction end, pre-request, max rows, Server-Timing, /live /ready /metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from api.pgcluster import ThrowawayCluster
from tests.api.apiserver import ApiServer, apply_rpc_fixture, running_api_server
from tests.pgfixtures import ROOT, DbInfo


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_per_role_statement_timeout(make_db: Callable[..., DbInfo],
                                    start_api_server: Callable[..., ApiServer]) -> None:
    db = make_db("rpc_timeout")
    apply_rpc_fixture(db)
    db.psql(f"alter role web_anon in database {db.name} set statement_timeout = '300ms'")
    server = start_api_server(db)
    try:
        with server.client() as client:
            assert client.get("/rpc/whoami").json()["statement_timeout"] == "300ms"
            # 57014 is PostgreSQL cancelling the statement: without the role's timeout the
            # call would sleep its 10 s and answer 200
            r = client.get("/rpc/sleepy", params={"seconds": 10})
            assert r.status_code == 500
            assert r.json()["code"] == "57014"
            assert r.json()["message"] == "canceling statement due to statement timeout"
            # the writer keeps its own (cluster-wide) timeout
            writer = {"Authorization": f"Bearer {server.writer_token}"}
            assert client.get("/rpc/whoami", headers=writer).json()["statement_timeout"] != "300ms"
            assert client.get("/rpc/sleepy", params={"seconds": 0.5}, headers=writer
                              ).status_code == 200
            assert client.get("/rpc/whoami").json()["statement_timeout"] == "300ms"
    finally:
        server.stop()
        db.drop()


def test_schema_reload_on_notify(api_server: ApiServer) -> None:
    with api_server.client() as client:
        assert client.get("/rpc/added_later").status_code == 404
        api_server.db.psql(
            "create function test_api.added_later() returns int language sql immutable "
            "as $$ select 42 $$; grant execute on function test_api.added_later() to web_anon;"
            "notify pgrst, 'reload schema';"
        )
        wait_for(lambda: client.get("/rpc/added_later").status_code == 200)
        assert client.get("/rpc/added_later").json() == 42
        metrics = client.get("/metrics").text
        assert 'metrics_rpc_schema_cache_reloads_total{outcome="ok"}' in metrics


def test_metrics_live_ready(api_server: ApiServer) -> None:
    with api_server.client() as client:
        client.get("/rpc/add", params={"a": 1})
        assert client.get("/live").status_code == 200
        assert client.get("/ready").status_code == 200
        metrics = client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        text = metrics.text
        assert 'metrics_rpc_requests_total{function="add",status="200"}' in text
        assert 'metrics_rpc_request_duration_seconds_bucket{function="add"' in text
        for gauge in ("metrics_rpc_db_pool_size", "metrics_rpc_db_pool_in_use",
                      "metrics_rpc_db_pool_waiting"):
            assert gauge in text


def test_settings_variants(rpc_db: DbInfo, start_api_server: Callable[..., ApiServer]) -> None:
    server = start_api_server(
        rpc_db, db_max_rows=2, server_timing_enabled=True, db_tx_end="commit-allow-override",
        db_pre_request="test_api.pre_check",
    )
    with server.client() as client:
        r = client.get("/rpc/get_items")
        assert [i["id"] for i in r.json()] == [1, 2]
        timing = r.headers["server-timing"]
        for stage in ("jwt", "parse", "plan", "transaction", "response"):
            assert f"{stage};dur=" in timing
        blocked = client.get("/rpc/add", params={"a": 1}, headers={"X-Block": "1"})
        assert (blocked.status_code, blocked.json()["message"]) == (403, "blocked by pre-request")
        writer = {"Authorization": f"Bearer {server.writer_token}"}
        before = rpc_db.psql("select count(*) from test_api.log")
        r = client.post("/rpc/write_log", json={"v": "rolled back"},
                        headers={**writer, "Prefer": "tx=rollback"})
        assert r.status_code == 200
        assert "tx=rollback" in r.headers["preference-applied"]
        assert rpc_db.psql("select count(*) from test_api.log") == before
        assert client.post("/rpc/write_log", json={"v": "kept"}, headers=writer).status_code == 200
        assert int(rpc_db.psql("select count(*) from test_api.log")) == int(before) + 1


@pytest.fixture
def own_cluster(tmp_path: Path) -> ThrowawayCluster:
    cluster = ThrowawayCluster(ROOT / ".data" / f"rpc-restart-{tmp_path.name}")
    cluster.start()
    yield cluster  # type: ignore[misc]
    cluster.remove()


def test_db_outage_503_then_recovery(own_cluster: ThrowawayCluster) -> None:
    own_cluster.createdb("app")
    db = DbInfo(own_cluster, "app")
    db.psql((ROOT / "sql/migrations/0001_roles.up.sql").read_text())
    apply_rpc_fixture(db)
    own_cluster.stop()
    with running_api_server(db, wait_ready=False) as server, server.client() as client:
        r = client.get("/rpc/add", params={"a": 1})  # before the first cache load
        assert (r.status_code, r.json()["code"]) == (503, "PGRST002")
        assert "retry-after" in r.headers
        assert client.get("/ready").status_code == 503
        own_cluster.start()
        server.wait_ready(30)
        assert client.get("/rpc/add", params={"a": 1}).json() == 11
        own_cluster.stop()
        r = client.get("/rpc/add", params={"a": 1})
        assert r.status_code == 503 and "retry-after" in r.headers
        assert r.json()["code"] in ("PGRST000", "57P01")
        wait_for(lambda: client.get("/ready").status_code == 503)
        own_cluster.start()
        wait_for(lambda: client.get("/rpc/add", params={"a": 1}).status_code == 200, 30)
        assert client.get("/rpc/add", params={"a": 2}).json() == 12
        wait_for(lambda: client.get("/ready").status_code == 200)
