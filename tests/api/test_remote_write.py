"""POST /api/v1/write over real HTTP, into a real PostgreSQL, read back through /rpc.

Requests are encoded here (api.ingest.encode, as Prometheus would send them), posted to
the app served by uvicorn, and the values read back through ``/rpc/get_agg_metric`` and the
tokenomics functions. "Database stopped" is a TCP proxy in front of PostgreSQL that the
test cuts and restores, so the shared test cluster keeps running for the other tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal
from typing import Any

import httpx
import pytest

from api.config import Settings
from api.ingest.decode import STALE_NAN
from api.ingest.encode import (
    V1_HEADERS,
    V2_HEADERS,
    Series,
    compress,
    write_request_v1,
    write_request_v2,
)
from api.pgcluster import free_port
from tests.api.apiserver import ApiServer, serving

SECRET = "remote-write-test-secret-0123456789abcdef"
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
HOUR = NOW - timedelta(hours=3)  # one whole hour bucket, well inside retention
T0 = int(HOUR.timestamp() * 1000)
SUPPLY = "123456789012345678901234567890.5"
EXCLUDED = "23456789012345678901234567890.5"
EXACT = Context(prec=200)  # Decimal's default 28 digits would round these


class CuttableProxy:
    """A TCP proxy to PostgreSQL: ``cut()`` drops every connection and refuses new ones."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def restore(self) -> None:
        async def start() -> None:
            self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self._call(start())

    def cut(self) -> None:
        async def stop() -> None:
            assert self.server is not None
            self.server.close()
            for writer in list(self.writers):
                writer.transport.abort()
            self.writers.clear()
        self._call(stop())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self.writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture(scope="module")
def database(make_db):
    info = make_db("rw")
    yield info
    info.drop()


@pytest.fixture(scope="module")
def api(database) -> Iterator[ApiServer]:
    settings = Settings(db_uri=database.authenticator_dsn, jwt_secret=SECRET, db_pool=4,
                        db_pool_acquisition_timeout=5)
    with serving(settings, db=database) as server:
        yield server


def post(api: ApiServer, body: bytes, *, headers: dict[str, str] | None = None,
         role: str | None = "writer") -> httpx.Response:
    sent = dict(V1_HEADERS if headers is None else headers)
    if role is not None:
        sent["Authorization"] = f"Bearer {api.token(role, sub='remote-write-test')}"
    return httpx.post(f"{api.base_url}/api/v1/write", content=body, headers=sent, timeout=30)


def rpc(api: ApiServer, function: str, **params: str) -> Any:
    response = httpx.get(f"{api.base_url}/rpc/{function}", params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def hour_range() -> dict[str, str]:
    return {"p_interval": "1 hour", "p_from": HOUR.isoformat(),
            "p_to": (HOUR + timedelta(hours=1)).isoformat()}


def sample_count(database) -> int:
    return int(database.psql("select count(*) from metrics.samples"))


def tokenomics_series() -> list[Series]:
    return [
        Series({"__name__": "manifest_tokenomics_total_supply", "manifest_tier": "mainnet",
                "supply": SUPPLY, "job": "tokenomics"}, [(T0 + 60_000, 1.0)]),
        Series({"__name__": "manifest_tokenomics_excluded_supply", "manifest_tier": "mainnet",
                "excluded_supply": EXCLUDED, "job": "tokenomics"}, [(T0 + 60_000, 1.0)]),
        Series({"__name__": "talib_mfx_power_conversion", "job": "price"},
               [(T0 + 30_000, 0.5)]),
        Series({"__name__": "web_requests", "instance": "web-1"},
               [(T0 + 10_000, 5.0), (T0 + 20_000, 7.0)]),
    ]


# --- the happy path -------------------------------------------------------------------


def test_samples_land_routed_and_exact_and_a_replay_changes_nothing(api, database):
    body = write_request_v1(tokenomics_series())
    first = post(api, body)
    assert first.status_code == 204, first.text
    assert first.headers["X-Metrics-Rpc-Samples-Written"] == "5"
    assert "X-Prometheus-Remote-Write-Samples-Written" not in first.headers  # 1.0: none
    assert first.headers["X-Metrics-Rpc-Samples-Duplicate"] == "0"

    supply = rpc(api, "get_agg_metric", p_metric_name="manifest_tokenomics_total_supply",
                 p_schema="mainnet", **hour_range())
    assert [row["value"] for row in supply] == [SUPPLY]  # every digit, as text
    price = rpc(api, "get_agg_metric", p_metric_name="talib_mfx_power_conversion",
                p_schema="common", **hour_range())
    assert [Decimal(row["value"]) for row in price] == [Decimal("0.5")]
    fdv = rpc(api, "get_agg_fdv", p_schema="mainnet", **hour_range())
    assert [Decimal(row["value"]) for row in fdv] == [
        EXACT.multiply(Decimal(SUPPLY), Decimal("0.5"))]
    circulating = rpc(api, "get_agg_circulating_supply", p_schema="mainnet", **hour_range())
    assert [Decimal(row["value"]) for row in circulating] == [
        EXACT.subtract(Decimal(SUPPLY), Decimal(EXCLUDED))]
    requests = rpc(api, "get_agg_cumsum_metric", p_metric_name="web_requests",
                   p_schema="cumsum", **hour_range())
    assert [Decimal(row["value"]) for row in requests] == [Decimal(12)]

    count = sample_count(database)
    replay = post(api, body)
    assert replay.status_code == 204
    assert replay.headers["X-Metrics-Rpc-Samples-Duplicate"] == "5"
    assert sample_count(database) == count
    assert rpc(api, "get_agg_fdv", p_schema="mainnet", **hour_range()) == fdv
    assert rpc(api, "get_agg_cumsum_metric", p_metric_name="web_requests", p_schema="cumsum",
               **hour_range()) == requests


def test_remote_write_2_0_is_read_too(api):
    series = [Series({"__name__": "rw2_metric", "instance": "a"}, [(T0 + 1000, 3.25)])]
    response = post(api, write_request_v2(series), headers=V2_HEADERS)
    assert response.status_code == 204, response.text
    assert response.headers["X-Prometheus-Remote-Write-Samples-Written"] == "1"
    rows = rpc(api, "get_agg_metric", p_metric_name="rw2_metric", p_schema="common",
               **hour_range())
    assert [Decimal(row["value"]) for row in rows] == [Decimal("3.25")]


def test_a_request_larger_than_one_batch_is_one_transaction(api, database):
    series = [Series({"__name__": "rw_many", "instance": f"i{i}"}, [(T0 + 2000, float(i))])
              for i in range(12_000)]
    before = sample_count(database)
    response = post(api, write_request_v1(series))
    assert response.status_code == 204, response.text
    assert sample_count(database) == before + 12_000


def test_basic_auth_password_is_a_writer_token(api):
    body = write_request_v1([Series({"__name__": "rw_basic"}, [(T0 + 3000, 1.0)])])
    response = httpx.post(f"{api.base_url}/api/v1/write", content=body, headers=V1_HEADERS,
                          auth=("prometheus", api.token()), timeout=30)
    assert response.status_code == 204, response.text


def names_stored(database, name: str) -> str:
    return database.psql(
        "select string_agg(s.value::text, ',' order by s.time) from metrics.samples as s "
        f"join metrics.series as se on se.id = s.series_id where se.name = '{name}'")


def latest_common(api: ApiServer) -> dict[str, str]:
    return {row["table_name"]: row["value"]
            for row in rpc(api, "get_all_latest_common_metrics")}


def test_nan_and_infinities_are_stored_and_counted_but_never_summed(api, database):
    series = [Series({"__name__": "rw_non_finite"}, [
        (T0 + 4000, 2.0), (T0 + 5000, float("nan")), (T0 + 6000, float("inf")),
        (T0 + 7000, float("-inf"))])]
    response = post(api, write_request_v2(series), headers=V2_HEADERS)
    assert response.status_code == 204, response.text
    assert response.headers["X-Prometheus-Remote-Write-Samples-Written"] == "4"
    assert names_stored(database, "rw_non_finite") == "2,NaN,Infinity,-Infinity"
    rows = rpc(api, "get_agg_metric", p_metric_name="rw_non_finite", p_schema="common",
               **hour_range())
    assert [Decimal(row["value"]) for row in rows] == [Decimal(2)]  # the last finite one
    replay = post(api, write_request_v2(series), headers=V2_HEADERS)
    assert replay.status_code == 204, replay.text
    assert replay.headers["X-Metrics-Rpc-Samples-Duplicate"] == "4"


def test_a_stale_marker_ends_its_series_until_a_later_sample(api, database):
    def send(at: int, value: float) -> None:
        body = write_request_v2([Series({"__name__": "rw_gone", "instance": "a"},
                                        [(T0 + at, value)])])
        response = post(api, body, headers=V2_HEADERS)
        assert response.status_code == 204, response.text
        assert response.headers["X-Prometheus-Remote-Write-Samples-Written"] == "1"

    send(8000, 1.0)
    assert latest_common(api)["rw_gone"] == "1"
    before = sample_count(database)
    send(9000, STALE_NAN)
    assert sample_count(database) == before  # a marker is no value
    assert "rw_gone" not in latest_common(api)
    send(9000, STALE_NAN)  # taken again: a replay
    send(10_000, 3.0)
    assert latest_common(api)["rw_gone"] == "3"


@pytest.mark.parametrize("marker_first", [True, False], ids=["marker-first", "sample-first"])
def test_a_big_number_block_change_is_no_conflict(api, database, marker_first):
    """A new supply value is a new label set of the same series: Prometheus ends the old
    one with a stale marker at the time the new one's first sample lands. The sample wins;
    the marker is still taken."""
    name = f"rw_block_change_{'marker' if marker_first else 'sample'}"
    at = T0 + 12 * 60_000

    def labels(supply: str) -> dict[str, str]:
        return {"__name__": name, "supply": supply, "job": "tokenomics"}

    first = post(api, write_request_v2([Series(labels("100"), [(at - 60_000, 1.0)])]),
                 headers=V2_HEADERS)
    assert first.status_code == 204, first.text
    change = [Series(labels("100"), [(at, STALE_NAN)]), Series(labels("101"), [(at, 1.0)])]
    for body in ([write_request_v2(change)] if marker_first else
                 [write_request_v2(change[1:]), write_request_v2(change[:1])]):
        response = post(api, body, headers=V2_HEADERS)
        assert response.status_code == 204, response.text
    assert names_stored(database, name) == "100,101"
    assert latest_common(api)[name] == "101"


# --- partial and malformed requests ---------------------------------------------------


def test_invalid_samples_give_400_with_the_count_and_the_valid_ones_land(api, database):
    before = sample_count(database)
    body = write_request_v1([
        Series({"job": "no-name"}, [(T0 + 7000, 1.0), (T0 + 8000, 2.0)]),
        Series({"__name__": "rw_partial", "supply": "not-a-number"}, [(T0 + 7000, 1.0)]),
        Series({"__name__": "rw_partial", "instance": "ok"}, [(T0 + 7000, 9.0)]),
    ])
    response = post(api, body)
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "MRPC400"
    assert error["message"].startswith("3 of 4 samples rejected, 1 written")
    assert "2: no __name__ label" in error["message"]
    assert response.headers["X-Metrics-Rpc-Samples-Written"] == "1"
    assert sample_count(database) == before + 1


@pytest.mark.parametrize(
    ("body", "headers", "status", "words"),
    [
        (b"\x10not snappy at all", V1_HEADERS, 400, "invalid snappy"),
        (compress(b"\x0a\xff\xff\xff\x0f"), V1_HEADERS, 400, "invalid protobuf"),
        (b"", V1_HEADERS, 400, "empty body"),
        (write_request_v1([Series({"__name__": "m"}, [(T0, 1.0)])]),
         {"Content-Type": "application/x-protobuf"}, 400, "missing Content-Encoding"),
        (write_request_v1([Series({"__name__": "m"}, [(T0, 1.0)])]),
         {"Content-Encoding": "snappy"}, 400, "missing Content-Type"),
        (write_request_v1([Series({"__name__": "m"}, [(T0, 1.0)])]),
         {**V1_HEADERS, "Content-Encoding": "zstd"}, 415, "unsupported Content-Encoding"),
        (write_request_v1([Series({"__name__": "m"}, [(T0, 1.0)])]),
         {**V1_HEADERS, "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v3"},
         415, "unsupported proto"),
    ],
)
def test_unreadable_requests_write_nothing(api, database, body, headers, status, words):
    before = sample_count(database)
    response = post(api, body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()
    assert set(error) == {"code", "details", "hint", "message"}
    assert words in error["message"]
    assert sample_count(database) == before


# --- who may write --------------------------------------------------------------------


def test_anonymous_gets_401_and_web_anon_403(api, database):
    body = write_request_v1([Series({"__name__": "rw_denied"}, [(T0, 1.0)])])
    before = sample_count(database)
    anonymous = post(api, body, role=None)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert anonymous.json()["code"] == "42501"
    web_anon = post(api, body, role="web_anon")
    assert web_anon.status_code == 403
    assert web_anon.json()["code"] == "42501"
    forged = post(api, body, headers={**V1_HEADERS, "Authorization": "Bearer not.a.jwt"},
                  role=None)
    assert forged.status_code == 401
    assert sample_count(database) == before


def test_ingest_counters_in_metrics(api):
    post(api, write_request_v1([Series({"__name__": "rw_counted"}, [(T0, 1.0)])]))
    text = httpx.get(f"{api.base_url}/metrics").text
    for name in ("metrics_rpc_ingest_samples_received_total",
                 "metrics_rpc_ingest_samples_written_total",
                 "metrics_rpc_ingest_samples_duplicate_total",
                 "metrics_rpc_ingest_samples_rejected_total",
                 'metrics_rpc_ingest_requests_total{protocol="1.0",status="204"}',
                 "metrics_rpc_ingest_request_duration_seconds_bucket"):
        assert name in text, name


def test_the_ingest_budget_answers_429_with_retry_after_and_writes_nothing(database):
    settings = Settings(db_uri=database.authenticator_dsn, jwt_secret=SECRET, db_pool=2,
                        db_pool_acquisition_timeout=5,
                        rate_limits="web_anon=60/minute;writer=600/minute;ingest=2/minute")

    def body(i: int) -> bytes:
        return write_request_v1([Series({"__name__": "rw_limited", "instance": f"i{i}"},
                                        [(T0 + 11_000, float(i))])])

    def stored() -> int:
        return int(database.psql("select count(*) from metrics.samples s join metrics.series r"
                                 " on r.id = s.series_id where r.name = 'rw_limited'"))

    with serving(settings, db=database) as server:
        first, second = post(server, body(1)), post(server, body(2))
        assert (first.status_code, second.status_code) == (204, 204), second.text
        assert second.headers["RateLimit-Remaining"] == "0"
        third = post(server, body(3))
        assert third.status_code == 429, third.text
        assert int(third.headers["Retry-After"]) >= 1
        assert third.json()["code"] == "MRPC429"
        assert stored() == 2  # the rejected request wrote nothing
        # the budget is the ingest one, not the writer's: RPC calls still go through
        assert httpx.get(f"{server.base_url}/rpc/get_all_latest_common_metrics",
                         headers={"Authorization": f"Bearer {server.token()}"},
                         timeout=30).status_code == 200


def test_series_ids_kept_by_the_app_survive_a_routing_change(api, database):
    def send(value: float, offset: int) -> None:
        response = post(api, write_request_v1([Series(
            {"__name__": "rw_routed", "manifest_tier": "testnet"}, [(T0 + offset, value)])]))
        assert response.status_code == 204, response.text
        assert response.headers["X-Metrics-Rpc-Samples-Duplicate"] == "0"

    def schemas() -> str:
        return database.psql("select string_agg(r.schema || '=' || s.value, ',' order by s.time)"
                             " from metrics.samples s join metrics.series r"
                             " on r.id = s.series_id where r.name = 'rw_routed'")

    send(1.0, 12_000)
    send(2.0, 13_000)  # the series id now comes from the app's cache
    database.psql("update metrics.schema_routes set target_schema = 'mainnet'"
                  " where label_value = 'testnet'")
    try:
        send(3.0, 14_000)  # a changed rule applies to the next batch, cache or not
    finally:
        database.psql("update metrics.schema_routes set target_schema = 'testnet'"
                      " where label_value = 'testnet'")
    send(4.0, 15_000)  # and back: the testnet series again
    assert schemas() == "testnet=1,testnet=2,mainnet=3,testnet=4"


# --- the database goes away -----------------------------------------------------------


def test_database_down_gives_503_and_the_retry_lands_exactly_once(database):
    proxy = CuttableProxy(database.port)
    proxy.restore()
    dsn = database.authenticator_dsn.replace(f":{database.port}/", f":{proxy.port}/")
    assert dsn != database.authenticator_dsn
    settings = Settings(db_uri=dsn, jwt_secret=SECRET, db_pool=2, db_pool_acquisition_timeout=5)
    body = write_request_v1([Series({"__name__": "rw_retried", "instance": "a"},
                                    [(T0 + 9000, 4.0), (T0 + 9500, 5.0)])])
    try:
        with serving(settings) as server:
            warm = post(server, write_request_v1([Series({"__name__": "rw_warm"}, [(T0, 1.0)])]))
            assert warm.status_code == 204, warm.text
            proxy.cut()
            down = post(server, body)
            assert down.status_code == 503, down.text
            assert down.headers["Retry-After"].isdigit()
            assert int(database.psql(
                "select count(*) from metrics.series where name = 'rw_retried'")) == 0
            proxy.restore()
            retried = None
            for _ in range(50):  # the sender's retry loop
                retried = post(server, body)
                if retried.status_code != 503:
                    break
                time.sleep(0.2)
            assert retried is not None and retried.status_code == 204, retried.text
            assert retried.headers["X-Metrics-Rpc-Samples-Duplicate"] == "0"
            again = post(server, body)
            assert again.headers["X-Metrics-Rpc-Samples-Duplicate"] == "2"
            assert int(database.psql(
                "select count(*) from metrics.samples s join metrics.series r"
                " on r.id = s.series_id where r.name = 'rw_retried'")) == 2
    finally:
        proxy.close()
