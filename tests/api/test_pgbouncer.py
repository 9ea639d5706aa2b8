"""The API through a real PgBouncer 1.18 in transaction pooling mode
(``PGRST_DB_PREPARED_STATEMENTS=false``), with one server connection shared by every
client connection, so any session state a request left behind would reach the next."""

from __future__ import annotations

import concurrent.futures
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from api.ingest.encode import V1_HEADERS, Series, write_request_v1
from tests.api.apiserver import ApiServer, running_api_server
from tests.api.pgbouncer import running_pgbouncer
from tests.pgfixtures import DbInfo

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("pgbouncer") is None and not Path("/usr/sbin/pgbouncer")
                       .exists(), reason="pgbouncer is not installed"),
]


@pytest.fixture(scope="module")
def bounced(rpc_db: DbInfo) -> Iterator[ApiServer]:
    folder = Path(rpc_db.cluster.folder).parent / f"{rpc_db.cluster.folder.name}-bouncer"
    with running_pgbouncer(folder, rpc_db.host, rpc_db.port) as port:
        uri = f"postgresql://authenticator@127.0.0.1:{port}/{rpc_db.name}"
        with running_api_server(rpc_db, db_uri=uri, db_prepared_statements=False,
                                db_channel_enabled=False,  # LISTEN needs a session
                                db_schemas=("test_api", "test_api_v2", "api")) as api:
            yield api
    shutil.rmtree(folder, ignore_errors=True)


def test_get_and_post_calls(bounced: ApiServer) -> None:
    with bounced.client() as client:
        for _ in range(3):  # the same statements again: nothing prepared may linger
            assert client.get("/rpc/add", params={"a": 1, "b": 2}).json() == 3
            assert client.post("/rpc/add", json={"a": 2}).json() == 12
        rows = client.get("/rpc/get_items", params={"select": "id", "order": "id.desc"})
        assert rows.status_code == 200 and rows.json()
        written = client.post("/rpc/write_log", json={"v": "x"},
                              headers={"Authorization": f"Bearer {bounced.writer_token}"})
        assert written.status_code == 200, written.text


def test_the_role_does_not_leak_between_requests(bounced: ApiServer) -> None:
    # concurrent requests spread over the API's pooled connections, which pgbouncer
    # multiplexes onto its one server session: a session-level role would leak
    writer = {"Authorization": f"Bearer {bounced.writer_token}"}

    def call(i: int) -> tuple[str, str]:
        expected = "writer" if i % 2 else "web_anon"
        with bounced.client() as client:
            body = client.get("/rpc/whoami", headers=writer if i % 2 else {}).json()
        return expected, body["current_user"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(64)))
    assert all(expected == got for expected, got in results), results


def test_request_gucs_are_the_requests_own(bounced: ApiServer) -> None:
    with bounced.client() as client:
        first = client.get("/rpc/whoami", headers={"X-Probe": "one"}).json()
        second = client.post("/rpc/whoami", json={}).json()
    assert first["headers"]["x-probe"] == "one" and first["method"] == "GET"
    assert "x-probe" not in second["headers"] and second["method"] == "POST"
    assert first["read_only"] == "on"


def test_streamed_results(bounced: ApiServer) -> None:
    with bounced.client() as client:
        response = client.get("/rpc/big_set", params={"n": 12000})
    assert response.status_code == 200
    assert len(response.json()) == 12000


def test_remote_write_and_the_read_after_it(bounced: ApiServer) -> None:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    t0 = int(hour.timestamp() * 1000)
    body = write_request_v1([Series({"__name__": "bouncer_probe", "instance": "a"},
                                     [(t0 + 1000, 42.0)])])
    headers = {**V1_HEADERS,
               "Authorization": f"Bearer {bounced.token('writer', sub='bouncer')}"}
    response = httpx.post(f"{bounced.base_url}/api/v1/write", content=body, headers=headers)
    assert response.status_code == 204, response.text
    params = {"p_metric_name": "bouncer_probe", "p_schema": "common", "p_interval": "1 hour",
              "p_from": hour.isoformat(), "p_to": (hour + timedelta(hours=1)).isoformat()}
    rows = httpx.get(f"{bounced.base_url}/rpc/get_agg_metric", params=params,
                     headers={"Accept-Profile": "api"}).json()
    assert [r["value"] for r in rows] == ["42"]
