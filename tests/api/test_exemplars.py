"""Exemplars over real HTTP into a real PostgreSQL (docs/INGEST.md, "Exemplars"): sent by
remote write 1.0 and 2.0, stored on their samples' series, counted exactly in
``X-Prometheus-Remote-Write-Exemplars-Written``, read back through ``/rpc/get_exemplars``.

Every test writes its own metric names, so the tests pass in any order on one database.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from api.config import Settings
from api.ingest.decode import MAX_EXEMPLAR_LABELS_LENGTH
from api.ingest.encode import V1_HEADERS, V2_HEADERS, Series, write_request_v1, write_request_v2
from tests.api.apiserver import ApiServer, serving
from tests.pgfixtures import DbInfo

SECRET = "exemplar-test-secret-0123456789abcdef0123"
START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
T0 = int(START.timestamp() * 1000)
WINDOW = {"p_from": START.isoformat(), "p_to": (START + timedelta(hours=1)).isoformat()}


@pytest.fixture(scope="module")
def database(make_db: Any) -> Iterator[DbInfo]:
    info: DbInfo = make_db("exemplars")
    yield info
    info.drop()


@pytest.fixture(scope="module")
def api(database: DbInfo) -> Iterator[ApiServer]:
    settings = Settings(db_uri=database.authenticator_dsn, jwt_secret=SECRET, db_pool=4)
    with serving(settings, db=database) as server:
        yield server


def post(api: ApiServer, body: bytes, headers: Mapping[str, str] = V2_HEADERS) -> httpx.Response:
    sent = {**headers, "Authorization": f"Bearer {api.token('writer', sub='exemplar-test')}"}
    return httpx.post(f"{api.base_url}/api/v1/write", content=body, headers=sent, timeout=30)


def exemplars_written(response: httpx.Response) -> int:
    return int(response.headers.get("X-Prometheus-Remote-Write-Exemplars-Written", "0"))


def get_exemplars(api: ApiServer, name: str, schema: str = "common", **params: str) -> Any:
    response = httpx.get(f"{api.base_url}/rpc/get_exemplars",
                         params={"p_metric_name": name, "p_schema": schema, **WINDOW, **params},
                         timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def stored(database: DbInfo, name: str) -> int:
    return int(database.psql(
        "select count(*) from metrics.exemplars e join metrics.series s on s.id = e.series_id "
        f"where s.name = '{name}'"))


def test_v2_exemplars_are_stored_on_their_series_and_read_back(api: ApiServer) -> None:
    labels = {"__name__": "ex_http_requests", "job": "api", "manifest_tier": "mainnet"}
    body = write_request_v2([Series(labels, [(T0, 3.0), (T0 + 60_000, 4.0)], [
        (T0, 3.0, {"trace_id": "abc", "span_id": "s1"}),
        (T0 + 60_000, math.inf, {"trace_id": "def"}),
    ])])
    response = post(api, body)
    assert response.status_code == 204, response.text
    assert exemplars_written(response) == 2
    assert response.headers["X-Prometheus-Remote-Write-Samples-Written"] == "2"
    rows = get_exemplars(api, "ex_http_requests", "mainnet")
    assert rows == [
        {"timestamp": START.isoformat(), "value": "3",
         "series_labels": {"job": "api", "manifest_tier": "mainnet"},
         "labels": {"trace_id": "abc", "span_id": "s1"}, "trace_id": "abc"},
        {"timestamp": (START + timedelta(minutes=1)).isoformat(), "value": "Infinity",
         "series_labels": {"job": "api", "manifest_tier": "mainnet"},
         "labels": {"trace_id": "def"}, "trace_id": "def"},
    ]


def test_v1_exemplars_are_stored(api: ApiServer, database: DbInfo) -> None:
    body = write_request_v1([Series({"__name__": "ex_v1"}, [(T0, 1.0)],
                                    [(T0, 1.0, {"trace_id": "v1trace"})])])
    response = post(api, body, V1_HEADERS)
    assert response.status_code == 204, response.text
    assert response.headers["X-Metrics-Rpc-Exemplars-Written"] == "1"
    assert "X-Prometheus-Remote-Write-Exemplars-Written" not in response.headers  # 1.0
    assert [row["trace_id"] for row in get_exemplars(api, "ex_v1")] == ["v1trace"]
    assert stored(database, "ex_v1") == 1


def test_a_replay_is_taken_again_and_changes_nothing(api: ApiServer, database: DbInfo) -> None:
    body = write_request_v2([Series({"__name__": "ex_replay"}, [(T0, 1.0)],
                                    [(T0, 1.0, {"trace_id": "once"})])])
    first, again = post(api, body), post(api, body)
    assert (first.status_code, again.status_code) == (204, 204)
    assert exemplars_written(first) == exemplars_written(again) == 1
    assert stored(database, "ex_replay") == 1


def test_a_conflicting_exemplar_is_refused_and_the_stored_one_kept(api: ApiServer) -> None:
    labels = {"__name__": "ex_conflict"}
    assert post(api, write_request_v2([Series(labels, [(T0, 1.0)],
                                              [(T0, 1.0, {"trace_id": "first"})])])
                ).status_code == 204
    response = post(api, write_request_v2([Series(labels, [(T0 + 1000, 2.0)],
                                                  [(T0, 1.0, {"trace_id": "second"})])]))
    assert response.status_code == 400
    assert "1 of 1 exemplars rejected, 0 written" in response.json()["message"]
    assert "different value or labels" in response.json()["message"]
    assert response.headers["X-Prometheus-Remote-Write-Samples-Written"] == "1"  # the rest
    assert exemplars_written(response) == 0
    assert [row["trace_id"] for row in get_exemplars(api, "ex_conflict")] == ["first"]


def test_invalid_exemplars_are_refused_with_400_and_the_valid_rest_written(
    api: ApiServer, database: DbInfo,
) -> None:
    too_long = {"trace_id": "x" * MAX_EXEMPLAR_LABELS_LENGTH}
    body = write_request_v2([Series({"__name__": "ex_invalid"}, [(T0, 1.0)], [
        (T0, 1.0, too_long),
        (0, 1.0, {"trace_id": "no time"}),
        (T0 + 1000, 1.0, {"trace_id": "fine"}),
    ])])
    response = post(api, body)
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith("2 of 3 exemplars rejected, 1 written: ")
    assert f"exemplar labels longer than {MAX_EXEMPLAR_LABELS_LENGTH} characters" in message
    assert "exemplar timestamp missing or out of range" in message
    assert exemplars_written(response) == 1
    assert response.headers["X-Prometheus-Remote-Write-Samples-Written"] == "1"
    assert stored(database, "ex_invalid") == 1


def test_exemplars_of_a_rejected_series_are_rejected_with_it(
    api: ApiServer, database: DbInfo,
) -> None:
    body = write_request_v2([Series({"job": "no name"}, [(T0, 1.0)],
                                    [(T0, 1.0, {"trace_id": "orphan"})])])
    response = post(api, body)
    assert response.status_code == 400
    message = response.json()["message"]
    assert "1 of 1 samples rejected" in message
    assert "1 of 1 exemplars rejected, 0 written: 1: no __name__ label" in message
    assert database.psql("select count(*) from metrics.exemplars "
                         "where labels ->> 'trace_id' = 'orphan'") == "0"


def test_an_exemplar_without_samples_registers_its_series(api: ApiServer) -> None:
    body = write_request_v2([Series({"__name__": "ex_alone", "job": "a"}, [],
                                    [(T0, 5.0, {"trace_id": "alone"})])])
    response = post(api, body)
    assert response.status_code == 204, response.text
    assert exemplars_written(response) == 1
    assert response.headers["X-Prometheus-Remote-Write-Samples-Written"] == "0"
    rows = get_exemplars(api, "ex_alone", p_labels='{"job": "a"}')
    assert [(row["trace_id"], row["series_labels"]) for row in rows] == [("alone", {"job": "a"})]


def test_exemplars_share_the_transaction_of_the_samples(api: ApiServer, database: DbInfo) -> None:
    """A failing exemplar write (here: the role lost EXECUTE on it) rolls the samples of
    the request back too: nothing is half-written."""
    signature = ("ingest.write_exemplars(text, bigint[], text[], text[], integer[], "
                 "timestamptz[], double precision[], text[], timestamptz, interval, integer)")
    database.psql(f"revoke execute on function {signature} from writer")
    try:
        response = post(api, write_request_v2([Series({"__name__": "ex_atomic"}, [(T0, 1.0)],
                                                      [(T0, 1.0, {"trace_id": "t"})])]))
    finally:
        database.psql(f"grant execute on function {signature} to writer")
    assert response.status_code == 403
    assert database.psql("select count(*) from metrics.series where name = 'ex_atomic'") == "0"


def test_a_new_exemplar_is_visible_to_the_next_read(api: ApiServer) -> None:
    """The response cache serves get_exemplars; writing exemplars bumps the data version,
    so the next GET after a 204 sees them."""
    labels = {"__name__": "ex_cached"}
    assert post(api, write_request_v2([Series(labels, [(T0, 1.0)],
                                              [(T0, 1.0, {"trace_id": "one"})])])
                ).status_code == 204
    assert len(get_exemplars(api, "ex_cached")) == 1
    assert post(api, write_request_v2([Series(labels, [(T0 + 1000, 1.0)],
                                              [(T0 + 1000, 1.0, {"trace_id": "two"})])])
                ).status_code == 204
    assert [row["trace_id"] for row in get_exemplars(api, "ex_cached")] == ["one", "two"]


def test_exemplar_counters_in_metrics(api: ApiServer) -> None:
    post(api, write_request_v2([Series({"__name__": "ex_counted"}, [(T0, 1.0)],
                                       [(T0, 1.0, {"trace_id": "c"}), (0, 1.0, {})])]))
    text = httpx.get(f"{api.base_url}/metrics").text
    for outcome in ("received", "written", "rejected"):
        assert f'metrics_rpc_ingest_exemplars_total{{outcome="{outcome}"}}' in text, outcome
