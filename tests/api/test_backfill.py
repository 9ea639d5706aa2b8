"""api/ingest/backfill.py: ``metrics-rpc backfill`` against a fake Prometheus HTTP API.

The fake Prometheus answers ``query_range`` from a recorded response shape
(``fixtures/prom_query_range.json``). Writes go to a fake receiver that decodes with the
real decoder and keeps samples exactly once, so these tests need no database; the end-to-end
run through the real API and PostgreSQL is in test_remote_write.py.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from api import cli
from api.ingest import backfill
from api.ingest.decode import decode_request
from api.ingest.encode import Series
from tests.api import httpstub

FIXTURES = Path(__file__).parent / "fixtures"
RECORDED = json.loads((FIXTURES / "prom_query_range.json").read_text())
RECORDED_ERROR = json.loads((FIXTURES / "prom_query_range_error.json").read_text())
SUPPLY = "1000000000000000000000000.123456789012345678"


class FakePrometheus:
    """``GET /api/v1/query_range`` over the recorded series: filtered by name and time."""

    def __init__(self) -> None:
        self.queries: list[dict[str, str]] = []
        self.url = ""  # set once served (the ``prometheus`` fixture)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(httpstub.QuietHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                params = {k: v[-1] for k, v in parse_qs(url.query).items()}
                fake.queries.append(params)
                if url.path != "/api/v1/query_range":
                    self._send(404, {"status": "error", "errorType": "not_found", "error": "?"})
                elif "!" in params.get("query", ""):
                    self._send(400, RECORDED_ERROR)
                else:
                    self._send(200, fake.answer(params))

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    @staticmethod
    def answer(params: dict[str, str]) -> Any:
        query, start, end = params["query"], float(params["start"]), float(params["end"])
        result = []
        for item in RECORDED["data"]["result"]:
            if query != backfill.DEFAULT_MATCH and item["metric"]["__name__"] != query:
                continue
            values = [p for p in item["values"] if start <= p[0] <= end]
            if values:
                result.append({"metric": item["metric"], "values": values})
        return {"status": "success", "data": {"resultType": "matrix", "result": result}}


class FakeReceiver:
    """``POST /api/v1/write``: the real decoder, exactly-once storage, scripted failures."""

    def __init__(self) -> None:
        # (name, series labels, time) → (value, big-number label) as the database keys them
        self.stored: dict[tuple[str, str, datetime], tuple[float, str | None]] = {}
        self.requests = 0
        self.fail_next: list[int] = []  # statuses to answer before accepting again
        self.authorization: list[str | None] = []
        self.url = ""  # set once served (the ``receiver`` fixture)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(httpstub.QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                fake.requests += 1
                fake.authorization.append(self.headers.get("Authorization"))
                if fake.fail_next:
                    self.send_response(fake.fail_next.pop(0))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                out = decode_request(body, self.headers["Content-Type"],
                                     self.headers["Content-Encoding"])
                written = 0
                for key in zip(out.names, out.labels, out.times, strict=True):
                    if key not in fake.stored:
                        written += 1
                fake.stored.update(zip(zip(out.names, out.labels, out.times, strict=True),
                                       zip(out.values, out.amounts, strict=True), strict=True))
                self.send_response(204)  # headers as the real endpoint sends them
                self.send_header("X-Metrics-Rpc-Samples-Written", str(out.accepted))
                self.send_header("X-Metrics-Rpc-Samples-Duplicate", str(out.accepted - written))
                self.end_headers()

        return Handler


@pytest.fixture
def prometheus() -> Iterator[FakePrometheus]:
    fake = FakePrometheus()
    with httpstub.serving(fake._handler()) as server:
        fake.url = httpstub.url(server)
        yield fake


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeReceiver]:
    fake = FakeReceiver()
    with httpstub.serving(fake._handler()) as server:
        fake.url = httpstub.url(server)
        monkeypatch.setenv("METRICS_RPC_API_URL", fake.url)
        monkeypatch.setenv("METRICS_RPC_TOKEN", "writer-token")
        monkeypatch.setattr(backfill, "RETRY_BASE_SECONDS", 0.0)
        yield fake


def _backfill(prometheus: FakePrometheus, *extra: str) -> int:
    return cli.main(["backfill", "--prometheus", prometheus.url, "--from", "2024-01-01",
                     "--to", "2024-01-03", "--step", "1h", "--no-progress", *extra])


def test_backfill_copies_every_finite_point_once(prometheus, receiver, capsys):
    assert _backfill(prometheus) == 0
    # 49 hourly points per series (both ends included), minus web_requests' NaN and +Inf
    assert len(receiver.stored) == 49 * 3 - 2
    assert {name for name, _, _ in receiver.stored} == {
        "manifest_tokenomics_total_supply", "talib_mfx_power_conversion", "web_requests"}
    supply_labels = {amount for (name, labels, _), (_, amount) in receiver.stored.items()
                     if name == "manifest_tokenomics_total_supply"
                     and "supply" not in json.loads(labels)}
    assert supply_labels == {SUPPLY}  # the big number travels as a label, digit for digit
    assert receiver.authorization[0] == "Bearer writer-token"
    # two day windows; the query range of each is aligned to the step
    assert [(q["start"], q["end"], q["step"]) for q in prometheus.queries] == [
        ("1704067200.000", "1704153600.000", "3600s"),
        ("1704153600.000", "1704240000.000", "3600s"),
    ]
    assert "sent 145 samples of 3 series" in capsys.readouterr().out


def test_rerun_is_harmless(prometheus, receiver, capsys):
    assert _backfill(prometheus) == 0
    before = dict(receiver.stored)
    sent = receiver.requests
    assert sent == 2  # one request per day window
    capsys.readouterr()
    assert _backfill(prometheus) == 0
    # the re-run really sent everything again (the receiver, like the API, kept each
    # sample once); test_backfill_through_the_real_api checks the same against PostgreSQL
    assert receiver.requests == 2 * sent
    assert receiver.stored == before
    assert "0 new, 145 already present" in capsys.readouterr().out


def test_dry_run_sends_nothing(prometheus, receiver, capsys, monkeypatch):
    monkeypatch.delenv("METRICS_RPC_TOKEN")  # not needed to look
    assert _backfill(prometheus, "--dry-run") == 0
    assert receiver.requests == 0
    out = capsys.readouterr()
    assert "would write 70 samples of 3 series in 1 requests" in out.out
    assert "would write 75 samples of 3 series in 1 requests" in out.out
    assert "dry run: would write 145 samples of 3 series (2 NaN/Inf points skipped)" in out.out


def test_match_selectors_and_small_requests(prometheus, receiver):
    assert _backfill(prometheus, "--match", "web_requests", "--match",
                     "talib_mfx_power_conversion", "--samples-per-request", "10") == 0
    assert {name for name, _, _ in receiver.stored} == {
        "web_requests", "talib_mfx_power_conversion"}
    assert len(receiver.stored) == 49 * 2 - 2
    assert receiver.requests == 2 * (3 + 3)  # per window and selector: ceil(24 / 10)


def test_5xx_and_429_are_retried_and_land_once(prometheus, receiver):
    receiver.fail_next = [503, 429, 500]
    assert _backfill(prometheus, "--match", "web_requests") == 0
    assert len(receiver.stored) == 49 - 2
    assert receiver.requests == 3 + 2


def test_refused_token_stops_with_a_message(prometheus, receiver, capsys):
    receiver.fail_next = [403]
    assert _backfill(prometheus) == 2
    assert "API refused the write (403)" in capsys.readouterr().err


def test_source_errors_stop_with_its_message(prometheus, receiver, capsys):
    assert _backfill(prometheus, "--match", "up!") == 2
    err = capsys.readouterr().err
    assert "bad_data" in err and "parse error" in err
    assert receiver.requests == 0


def test_missing_token_is_a_configuration_error(prometheus, receiver, monkeypatch, capsys):
    monkeypatch.delenv("METRICS_RPC_TOKEN")
    assert _backfill(prometheus) == 2
    assert "METRICS_RPC_TOKEN" in capsys.readouterr().err


# --- pure parts -----------------------------------------------------------------------


def test_windows_are_day_sized_half_open_and_step_aligned():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    days = backfill.windows(start, start + timedelta(days=2, hours=5), timedelta(minutes=1))
    assert [(a.isoformat(), b.isoformat()) for a, b in days] == [
        ("2024-01-01T00:00:00+00:00", "2024-01-02T00:00:00+00:00"),
        ("2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00"),
        ("2024-01-03T00:00:00+00:00", "2024-01-03T05:00:00+00:00"),
    ]
    # a 1 s step would be 86,400 points a day: windows shrink to stay under the cap
    small = backfill.windows(start, start + timedelta(days=1), timedelta(seconds=1))
    assert small[0][1] - small[0][0] == timedelta(seconds=backfill.MAX_POINTS_PER_QUERY)


def test_batches_split_long_series():
    series = [Series({"__name__": "a"}, [(i, 1.0) for i in range(5)]),
              Series({"__name__": "b"}, [(i, 1.0) for i in range(3)])]
    sizes = [[(s.labels["__name__"], len(s.samples)) for s in b]
             for b in backfill.batches(series, 4)]
    assert sizes == [[("a", 4)], [("a", 1), ("b", 3)]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-31", datetime(2024, 1, 31, tzinfo=UTC)),
        ("2024-01-31T12:00:00Z", datetime(2024, 1, 31, 12, tzinfo=UTC)),
        ("2024-01-31T14:00:00+02:00", datetime(2024, 1, 31, 12, tzinfo=UTC)),
        ("1706702400", datetime(2024, 1, 31, 12, tzinfo=UTC)),
    ],
)
def test_parse_time(text, expected):
    assert backfill.parse_time(text) == expected


def test_parse_time_rejects_nonsense():
    with pytest.raises(argparse.ArgumentTypeError, match="not a date"):
        backfill.parse_time("yesterday")


def test_matrix_to_series_keeps_half_open_windows_and_skips_non_finite():
    result = [{"metric": {"__name__": "m"},
               "values": [[10, "1"], [11.5, "NaN"], [12, "-Inf"], [13, "2.5"], [14, "3"]]}]
    series, skipped = backfill.matrix_to_series(result, keep_until_ms=14_000)
    assert series == [Series({"__name__": "m"}, [(10_000, 1.0), (13_000, 2.5)])]
    assert skipped == 2


# --- end to end: the real API and PostgreSQL --------------------------------------------


@pytest.fixture(scope="module")
def real_api(make_db) -> Iterator[Any]:
    from api.config import Settings
    from tests.api.apiserver import serving

    database = make_db("backfill")
    settings = Settings(db_uri=database.authenticator_dsn,
                        jwt_secret="backfill-test-secret-0123456789abcdef")
    try:
        with serving(settings, db=database) as server:
            # the recorded data is from January 2024: the ingest window's clock goes there
            server.app.state.runtime.remote_write.clock = lambda: 1_704_412_800.0  # 01-05
            yield server
    finally:
        database.drop()


def test_backfill_through_the_real_api(prometheus, real_api, monkeypatch, capsys):
    import httpx

    monkeypatch.setenv("METRICS_RPC_API_URL", real_api.base_url)
    monkeypatch.setenv("METRICS_RPC_TOKEN", real_api.token("writer"))
    count = "select count(*) from metrics.samples"
    assert _backfill(prometheus, "--dry-run") == 0
    assert real_api.db.psql(count) == "0"  # the dry run wrote nothing

    assert _backfill(prometheus) == 0
    assert "145 new, 0 already present" in capsys.readouterr().out
    assert real_api.db.psql(count) == "145"
    assert _backfill(prometheus) == 0  # resuming / re-running is harmless
    assert "0 new, 145 already present" in capsys.readouterr().out
    assert real_api.db.psql(count) == "145"

    rows = httpx.get(f"{real_api.base_url}/rpc/get_agg_metric", params={
        "p_metric_name": "manifest_tokenomics_total_supply", "p_schema": "mainnet",
        "p_interval": "1 day", "p_from": "2024-01-01T00:00:00Z", "p_to": "2024-01-04T00:00:00Z",
    }).json()
    assert [row["value"] for row in rows] == [SUPPLY, SUPPLY, SUPPLY]
