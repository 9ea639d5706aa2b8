"""Remote write under unlucky and hostile conditions, over real HTTP into a real PostgreSQL:
partitions created by many senders at once, database failures, conflicting duplicates,
mismatched versions, the ingest window, label limits, new-series caps, and decoding off
the event loop (docs/INGEST.md)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from api.ingest import decode, remote_write
from api.ingest.encode import V1_HEADERS, V2_HEADERS, Series, write_request_v1, write_request_v2
from tests.api.apiserver import ApiServer, running_api_server
from tests.pgfixtures import DbInfo

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
T0 = int((NOW - timedelta(hours=2)).timestamp() * 1000)  # well inside the window
DAY_MS = 86_400_000
# 2,000 series of 10 samples with 500-byte labels: over 1 MiB uncompressed, so decoded in
# a worker thread (api.ingest.remote_write.INLINE_DECODE_BYTES)
LARGE_BODY = write_request_v1(
    Series({"__name__": "held_write", "i": str(i), "pad": "p" * 500},
           [(T0 + s * 1000, float(s)) for s in range(10)]) for i in range(2000))


@pytest.fixture(scope="module")
def database(make_db: Any) -> Iterator[DbInfo]:
    info = make_db("limits")
    yield info
    info.drop()


@pytest.fixture(scope="module")
def api(database: DbInfo) -> Iterator[ApiServer]:
    with running_api_server(database, db_schemas=("api",), db_pool=8) as server:
        yield server


def post(server: ApiServer, body: bytes, headers: dict[str, str] = V1_HEADERS,
         sub: str = "limits-test") -> httpx.Response:
    return httpx.post(f"{server.base_url}/api/v1/write", content=body, timeout=60,
                      headers={**headers, "Authorization": f"Bearer {server.token(sub=sub)}"})


def stored(database: DbInfo, name: str) -> int:
    return int(database.psql("select count(*) from metrics.samples s join metrics.series r"
                             f" on r.id = s.series_id where r.name = '{name}'"))


def month_start(months_back: int) -> datetime:
    first = NOW.replace(day=1, hour=0, minute=0)
    for _ in range(months_back):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


# --- no batch lost to a server-side problem -------------------------------------------


def test_the_large_body_is_large():
    assert decode.decompressed_length(LARGE_BODY) > remote_write.INLINE_DECODE_BYTES


def test_partitions_for_this_month_and_the_next_exist_after_migrate(database):
    for months_ahead in range(3):
        month = (NOW.replace(day=1) + timedelta(days=32 * months_ahead)).strftime("%Y_%m")
        for parent in ("samples_network", "samples_cumsum", "rollup_1m_network",
                       "rollup_1m_cumsum"):
            assert database.psql(f"select to_regclass('metrics.{parent}_p{month}')") != ""


@pytest.mark.parametrize("months_back", [3, 4, 5])
def test_concurrent_writes_into_a_month_without_partitions_all_land(api, database, months_back):
    month = month_start(months_back)
    suffix = month.strftime("%Y_%m")
    assert database.psql(f"select to_regclass('metrics.samples_network_p{suffix}')") == ""
    senders = 6
    start_ms = int(month.timestamp() * 1000) + DAY_MS
    bodies = [write_request_v1([
        *(Series({"__name__": f"race_{months_back}", "sender": str(s), "i": str(i)},
                 [(start_ms + i * 1000, float(i))]) for i in range(50)),
        Series({"__name__": "web_requests", "sender": f"{months_back}-{s}"}, [(start_ms, 1.0)]),
    ]) for s in range(senders)]
    barrier = threading.Barrier(senders)

    def send(body: bytes) -> int:
        barrier.wait()
        return post(api, body).status_code

    with ThreadPoolExecutor(senders) as pool:
        statuses = list(pool.map(send, bodies))
    assert statuses == [204] * senders
    assert stored(database, f"race_{months_back}") == senders * 50
    assert database.psql(f"select to_regclass('metrics.samples_cumsum_p{suffix}')") != ""


def test_a_database_failure_is_a_5xx_never_a_4xx(api, database):
    body = write_request_v1([Series({"__name__": "broken_db"}, [(T0, 1.0)])])
    database.psql("alter table metrics.schema_routes rename to schema_routes_away")
    try:
        response = post(api, body)  # 42P01 inside the write: PostgREST's map says 404
    finally:
        database.psql("alter table metrics.schema_routes_away rename to schema_routes")
    assert response.status_code == 500, response.text
    error = response.json()
    assert error["code"] == "MRPC500"
    assert "schema_routes" not in response.text  # no SQL, no table names
    retried = post(api, body)
    assert retried.status_code == 204, retried.text
    assert stored(database, "broken_db") == 1


def test_a_conflicting_duplicate_is_rejected_and_the_stored_value_kept(api, database):
    first = post(api, write_request_v1([Series({"__name__": "dup_value"}, [(T0, 1.0)])]))
    assert first.status_code == 204, first.text
    conflict = post(api, write_request_v1([
        Series({"__name__": "dup_value"}, [(T0, 2.0), (T0 + 1000, 3.0)])]))
    assert conflict.status_code == 400, conflict.text
    message = conflict.json()["message"]
    assert message.startswith("1 of 2 samples rejected, 1 written")
    assert "1: duplicate sample for timestamp with a different value" in message
    assert database.psql(
        "select string_agg(s.value::text, ',' order by s.time) from metrics.samples s"
        " join metrics.series r on r.id = s.series_id where r.name = 'dup_value'") == "1,3"
    replay = post(api, write_request_v1([Series({"__name__": "dup_value"}, [(T0, 1.0)])]))
    assert replay.status_code == 204, replay.text
    assert replay.headers["X-Metrics-Rpc-Samples-Duplicate"] == "1"


@pytest.mark.parametrize(("body", "headers", "found"), [
    (write_request_v1([Series({"__name__": "v_mismatch"}, [(T0, 1.0)])]), V2_HEADERS,
     "prometheus.WriteRequest"),
    (write_request_v2([Series({"__name__": "v_mismatch"}, [(T0, 1.0)])]), V1_HEADERS,
     "io.prometheus.write.v2.Request"),
])
def test_a_body_of_the_other_version_is_a_400_naming_the_mismatch(api, database, body,
                                                                  headers, found):
    response = post(api, body, headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "PGRST102"
    assert f"the body is a {found} message" in response.json()["message"]
    assert stored(database, "v_mismatch") == 0


# --- ingest limits ----------------------------------------------------------------------


def test_samples_outside_the_window_are_rejected_and_create_no_partition(api, database):
    far_ahead = NOW + timedelta(days=150)
    ahead_ms = int(far_ahead.timestamp() * 1000)
    two_years_ago = int((NOW - timedelta(days=730)).timestamp() * 1000)
    # twice the allowed 10 minutes, from the clock now (NOW is this module's import time)
    twenty_minutes_ahead = int((datetime.now(UTC) + timedelta(minutes=20)).timestamp() * 1000)
    body = write_request_v1([
        Series({"__name__": "window_gauge"}, [
            (two_years_ago, 1.0), (ahead_ms, 2.0), (twenty_minutes_ahead, 3.0), (T0, 4.0)]),
        # thousands of distinct months in one request: none gets a table
        Series({"__name__": "window_gauge", "spread": "yes"},
               [(ahead_ms + i * 31 * DAY_MS, 1.0) for i in range(300)]),
    ])
    tables = database.psql("select count(*) from pg_class")
    response = post(api, body)
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert message.startswith("303 of 304 samples rejected, 1 written"), message
    assert "1: older than the retention" in message
    assert "302: too far in the future" in message
    assert stored(database, "window_gauge") == 1
    assert database.psql("select count(*) from pg_class") == tables
    assert database.psql(
        f"select to_regclass('metrics.samples_network_p{far_ahead:%Y_%m}')") == ""
    # cumsum is kept forever: an old sample is fine there
    old = post(api, write_request_v1([Series({"__name__": "web_requests", "old": "yes"},
                                             [(two_years_ago, 5.0)])]))
    assert old.status_code == 204, old.text


def test_label_limits_reject_the_offending_series_and_write_the_rest(api, database):
    body = write_request_v1([
        Series({"__name__": "labels_ok", "instance": "a"}, [(T0, 1.0)]),
        Series({"__name__": "labels_long_value", "v": "x" * 2700}, [(T0, 1.0), (T0 + 1, 2.0)]),
        Series({"__name__": "labels_long_name", "n" * 200: "x"}, [(T0, 1.0)]),
        Series({"__name__": "labels_many", **{f"l{i}": "x" for i in range(40)}}, [(T0, 1.0)]),
        Series({"__name__": "labels_big", **{f"l{i}": "y" * 900 for i in range(3)}},
               [(T0, 1.0)]),
    ])
    response = post(api, body)
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert message.startswith("5 of 6 samples rejected, 1 written"), message
    assert "2: label value longer than 1024 characters" in message
    assert "1: label name longer than 128 characters" in message
    assert "1: more than 30 labels" in message
    assert "1: labels larger than 2048 bytes" in message
    assert stored(database, "labels_ok") == 1
    assert database.psql("select count(*) from metrics.series where name like 'labels_%'") == "1"
    metrics = httpx.get(f"{api.base_url}/metrics").text
    assert 'metrics_rpc_ingest_samples_limited_total{limit="label_limits"}' in metrics


def test_label_limits_are_settings(database):
    with running_api_server(database, db_schemas=("api",),
                            ingest_max_label_value_length=4) as server:
        response = post(server, write_request_v1([
            Series({"__name__": "lim", "v": "12345"}, [(T0, 1.0)]),
            Series({"__name__": "lim", "v": "1234"}, [(T0, 1.0)])]))
    assert response.status_code == 400
    assert "1: label value longer than 4 characters" in response.json()["message"]


def test_new_series_over_the_per_request_cap_are_refused(database):
    with running_api_server(database, db_schemas=("api",),
                            ingest_max_new_series_per_request=3) as server:
        response = post(server, write_request_v1([
            Series({"__name__": "capped_req", "i": str(i)}, [(T0, 1.0), (T0 + 1000, 2.0)])
            for i in range(5)]))
        assert response.status_code == 400, response.text
        message = response.json()["message"]
        assert message.startswith("4 of 10 samples rejected, 6 written"), message
        assert "4: new series over the limit" in message
        metrics = httpx.get(f"{server.base_url}/metrics").text
        assert "metrics_rpc_ingest_series_refused_total 2.0" in metrics
        assert 'metrics_rpc_ingest_samples_limited_total{limit="new_series"} 4.0' in metrics
        # known series are not new: the same request again stores the refused ones' peers
        again = post(server, write_request_v1([
            Series({"__name__": "capped_req", "i": str(i)}, [(T0 + 2000, 3.0)])
            for i in range(5)]))
        assert again.status_code == 204, again.text
    assert database.psql("select count(*) from metrics.series where name = 'capped_req'") == "5"


def test_new_series_per_minute_are_counted_per_writer(database):
    with running_api_server(database, db_schemas=("api",),
                            ingest_max_new_series_per_minute=4) as server:
        def body(prefix: str) -> bytes:
            return write_request_v1([Series({"__name__": "capped_min", "s": f"{prefix}{i}"},
                                            [(T0, 1.0)]) for i in range(3)])

        server.app.state.runtime.remote_write.new_series.clock = lambda: 600.0  # one minute
        assert post(server, body("a"), sub="alice").status_code == 204
        second = post(server, body("b"), sub="alice")
        assert second.status_code == 400, second.text
        assert second.json()["message"].startswith("2 of 3 samples rejected, 1 written")
        assert post(server, body("c"), sub="bob").status_code == 204  # bob has his own
        server.app.state.runtime.remote_write.new_series.clock = lambda: 660.0  # next minute
        assert post(server, body("b"), sub="alice").status_code == 204
    assert database.psql("select count(*) from metrics.series where name = 'capped_min'") == "9"


def test_decoding_a_large_body_runs_off_the_event_loop(api, database):
    """A large write whose decoding is held in its worker thread: /live and a read answer
    meanwhile."""
    endpoint = api.app.state.runtime.remote_write
    started, release = threading.Event(), threading.Event()

    def held_decoder(*args: Any, **kwargs: Any) -> decode.DecodedWrite:
        started.set()
        release.wait(60)
        return decode.decode_request(*args, **kwargs)

    endpoint.decoder = held_decoder
    try:
        with ThreadPoolExecutor(1) as pool:
            write = pool.submit(post, api, LARGE_BODY)
            assert started.wait(30), "the write never reached the decoder"
            live = httpx.get(f"{api.base_url}/live", timeout=30)
            read = httpx.get(f"{api.base_url}/rpc/get_all_latest_common_metrics", timeout=30)
            assert not write.done()  # still decoding
            assert (live.status_code, read.status_code) == (200, 200)
            release.set()
            assert write.result().status_code == 204
    finally:
        release.set()
        endpoint.decoder = decode.decode_request
    assert stored(database, "held_write") == 2000 * 10
