"""Prometheus' remote-write receiver compliance cases (``prometheus/compliance``,
``remotewrite/receiver/*_test.go``), ported: each test is named after the suite's test and
its case, and checks what the suite's ``validateResponse`` checks (the status class, the
exact status where the suite names one, and the ``X-Prometheus-Remote-Write-*-Written``
counts: exact on 2xx, at most the expected ones on 4xx; a missing header counts 0).

Ported: metric_test.go (single and multiple metrics, created timestamp), request_test.go
(content types, encodings, corrupt body), histograms_test.go (native histograms: our
documented 400 where the suite expects 204) and rw1_compat_test.go. Not ported yet:
exemplar_test.go, metadata_test.go, combined_test.go.

Every value case passes: NaN and ±Inf are stored, a stale marker is taken as the end of
its series (docs/INGEST.md, "Non-finite samples"). The suite runs each case against a
fresh receiver; here one database serves them all, so each value case writes at its own
time (one value per series and time, as the suite's receivers see it).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from api.config import Settings
from api.ingest._proto import write_v2_pb2
from api.ingest.decode import STALE_NAN
from api.ingest.encode import V2_HEADERS, Series, compress, write_request_v1
from tests.api.apiserver import ApiServer, serving

SECRET = "remote-write-compliance-secret-0123456789abcdef"
# an hour ago, well inside the ingest window (the suite sends "now")
T0 = int((datetime.now(UTC) - timedelta(hours=1)).replace(second=0, microsecond=0)
         .timestamp() * 1000)

# metric_test.go's values
VALUES = {"1.0": 1.0, "StaleNaN": STALE_NAN, "NaN": math.nan, "Inf": math.inf,
          "-Inf": -math.inf}

_VALUE_BITS = [struct.pack("<d", value) for value in VALUES.values()]


def value_time(value: float) -> int:
    """T0 for 1.0 (and histograms), a minute later for each further value case."""
    bits = struct.pack("<d", value)
    return T0 + 60_000 * (_VALUE_BITS.index(bits) if bits in _VALUE_BITS else 0)


@pytest.fixture(scope="module")
def api(make_db) -> Iterator[ApiServer]:
    database = make_db("rwc")
    settings = Settings(db_uri=database.authenticator_dsn, jwt_secret=SECRET, db_pool=4)
    with serving(settings, db=database) as server:
        yield server
    database.drop()


# --- a hand-written request builder, as the suite's generateRequest --------------------


@dataclass
class Histogram:
    positive: bool = False
    negative: bool = False
    zero: bool = False
    custom_buckets: bool = False
    bad_count: bool = False


def request_v2(samples: Sequence[tuple[Mapping[str, str], float]] = (),
               histograms: Sequence[tuple[Mapping[str, str], Histogram]] = (),
               created_timestamp: int = 0) -> bytes:
    """A remote write 2.0 body: one series per sample or histogram, at T0 + its index."""
    request = write_v2_pb2.Request()
    symbols: dict[str, int] = {"": 0}

    def refs(labels: Mapping[str, str]) -> list[int]:
        out = []
        for name in sorted(labels):
            for text in (name, labels[name]):
                out.append(symbols.setdefault(text, len(symbols)))
        return out

    for i, (labels, value) in enumerate(samples):
        series = request.timeseries.add()
        series.labels_refs.extend(refs(labels))
        series.samples.add(value=value, timestamp=value_time(value) + i)
        series.created_timestamp = created_timestamp
    for i, (labels, shape) in enumerate(histograms):
        series = request.timeseries.add()
        series.labels_refs.extend(refs(labels))
        h = series.histograms.add(timestamp=T0 + i, sum=1.0, schema=0, zero_threshold=1e-128)
        count = 0
        if shape.positive:
            h.positive_spans.add(offset=0, length=2)
            h.positive_deltas.extend([1, 0])
            count += 2
        if shape.negative:
            h.negative_spans.add(offset=0, length=1)
            h.negative_deltas.extend([1])
            count += 1
        if shape.zero:
            h.zero_count_int = 1
            count += 1
        if shape.custom_buckets:
            h.schema = -53
            h.custom_values.extend([1.0, 2.0])
        h.count_int = count + (5 if shape.bad_count else 0)
    request.symbols.extend(symbols)
    return compress(request.SerializeToString())


def send(api: ApiServer, body: bytes, headers: Mapping[str, str] = V2_HEADERS) -> httpx.Response:
    sent = {**headers, "Authorization": f"Bearer {api.token('writer', sub='compliance')}"}
    return httpx.post(f"{api.base_url}/api/v1/write", content=body, headers=sent, timeout=30)


def written(response: httpx.Response, kind: str) -> int:
    return int(response.headers.get(f"X-Prometheus-Remote-Write-{kind}-Written", "0"))


def validate(response: httpx.Response, *, success: bool, samples: int = 0,
             histograms: int = 0, exemplars: int = 0, strict: bool = True,
             exact_status: int | None = None) -> None:
    """The suite's validateResponse."""
    if exact_status is not None:
        assert response.status_code == exact_status, response.text
    if response.is_success:
        assert success, f"{response.status_code} but the case expects a failure"
        assert written(response, "Samples") == samples
        assert written(response, "Histograms") == histograms
        assert written(response, "Exemplars") == exemplars
        if strict:
            assert response.status_code == 204
    else:
        assert not success, f"{response.status_code}: {response.text}"
        assert response.status_code < 500
        if exact_status is None:
            assert response.status_code == 400, response.text
        assert written(response, "Samples") <= samples
        assert written(response, "Histograms") <= histograms
        assert written(response, "Exemplars") <= exemplars


def any_value_cases() -> list[object]:
    return [pytest.param(value, id=key) for key, value in VALUES.items()]


# --- metric_test.go --------------------------------------------------------------------

SINGLE_OK = {
    "simple metric": {"__name__": "up"},
    "simple metric with multiple labels": {"__name__": "up", "job": "testjob",
                                           "instance": "localhost:9090"},
    "simple metric with newlines": {"__name__": "up", "job": "test\njob\n",
                                    "instance": "localhost:9090"},
    "simple metric with dots": {"__name__": "resource.cpu.usage", "job.name": "testjob",
                                "instance.name": "localhost:9090"},
    "simple metric with spaces": {"__name__": "resource cpu usage", "job name": "testjob",
                                  "instance name": "localhost:9090"},
}
SINGLE_BAD = {
    "simple metric without name label": {"job": "testjob", "instance": "localhost:9090"},
    "empty metric": {},
}


@pytest.mark.parametrize("value", any_value_cases())
@pytest.mark.parametrize("case", SINGLE_OK)
def test_single_metric(api: ApiServer, case: str, value: float) -> None:
    """TestSingleMetric/<value>/<case> (and its "returns 204" variant)."""
    response = send(api, request_v2([(SINGLE_OK[case], value)]))
    validate(response, success=True, samples=1)


@pytest.mark.parametrize("value", any_value_cases())
@pytest.mark.parametrize("case", SINGLE_BAD)
def test_single_metric_refused(api: ApiServer, case: str, value: float) -> None:
    """TestSingleMetric/<value>/<case> for the cases the suite expects to fail."""
    response = send(api, request_v2([(SINGLE_BAD[case], value)]))
    validate(response, success=False, samples=1)


def test_counter_with_created_timestamp(api: ApiServer) -> None:
    """TestCounterWithCreatedTimestamp: the created timestamp is accepted (and ignored)."""
    body = request_v2([({"__name__": "http_requests_total", "job": "api"}, 100.0)],
                      created_timestamp=T0 - 3_600_000)
    validate(send(api, body), success=True, samples=1)


def up(instance: str) -> dict[str, str]:
    return {"__name__": "up", "job": "testjob", "instance": instance}


def no_name(instance: str) -> dict[str, str]:
    return {"job": "testjob", "instance": instance}


@pytest.mark.parametrize("value", any_value_cases())
def test_multiple_metrics__multiple_metrics(api: ApiServer, value: float) -> None:
    """TestMultipleMetrics/<value>/multiple metrics."""
    samples = [(up(f"localhost:909{i}"), value) for i in range(4)]
    validate(send(api, request_v2(samples)), success=True, samples=4)


@pytest.mark.parametrize("value", any_value_cases())
def test_multiple_metrics__without_name_label(api: ApiServer, value: float) -> None:
    """TestMultipleMetrics/<value>/multiple metrics, without name label."""
    samples = [(no_name(f"localhost:909{i}"), value) for i in range(4)]
    validate(send(api, request_v2(samples)), success=False, samples=0)


@pytest.mark.parametrize("value", any_value_cases())
def test_multiple_metrics__1_without_name_label(api: ApiServer, value: float) -> None:
    """TestMultipleMetrics/<value>/multiple metrics, 1 without name label: a 400, and at
    most the three valid samples written."""
    samples = [(no_name("localhost:9090"), value)]
    samples += [(up(f"localhost:909{i}"), value) for i in range(1, 4)]
    validate(send(api, request_v2(samples)), success=False, samples=3)


# --- request_test.go -------------------------------------------------------------------


def corrupt(body: bytes) -> bytes:
    return b"0" + body[1:]


@pytest.mark.parametrize("content_type", ["application/json", "image/png"])
def test_bad_content_types(api: ApiServer, content_type: str) -> None:
    """TestBadContentTypes/application_json, /image_png: 415."""
    body = corrupt(request_v2([({"__name__": "up"}, 1.0)]))
    response = send(api, body, {**V2_HEADERS, "Content-Type": content_type})
    validate(response, success=False, exact_status=415)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_bad_content_encodings(api: ApiServer, encoding: str) -> None:
    """TestBadContentEncodings/gzip, /deflate: 415."""
    body = corrupt(request_v2([({"__name__": "up"}, 1.0)]))
    response = send(api, body, {**V2_HEADERS, "Content-Encoding": encoding})
    validate(response, success=False, exact_status=415)


def test_corrupt_request_body(api: ApiServer) -> None:
    """TestCorruptRequestBody: a 4xx (ours: 400)."""
    body = corrupt(request_v2([({"__name__": "up"}, 1.0)]))
    validate(send(api, body), success=False)


# --- histograms_test.go: native histograms are a documented 400 (docs/INGEST.md) --------

HISTOGRAMS = {
    "basic_histogram": ({"__name__": "test_histogram"}, Histogram(True, True, True)),
    "custom_buckets_histogram": ({"__name__": "test_histogram"},
                                 Histogram(positive=True, custom_buckets=True)),
    "positive_only_histogram": ({"__name__": "test_histogram", "job": "test"},
                                Histogram(positive=True, zero=True)),
    "negative_only_histogram": ({"__name__": "test_histogram", "instance": "localhost"},
                                Histogram(negative=True)),
    "minimal_histogram": ({"__name__": "minimal_hist"}, Histogram(zero=True)),
    "bad_count_histogram": ({"__name__": "minimal_hist"},
                            Histogram(positive=True, bad_count=True)),
}


@pytest.mark.parametrize("case", HISTOGRAMS)
def test_histograms(api: ApiServer, case: str) -> None:
    """TestHistograms/<case>: refused with 400 and nothing written (the suite expects 204
    for all but bad_count_histogram; the spec lets a receiver refuse them)."""
    response = send(api, request_v2(histograms=[HISTOGRAMS[case]]))
    validate(response, success=False, histograms=1)
    assert "native histograms are not supported" in response.text


def test_multiple_histograms(api: ApiServer) -> None:
    """TestMultipleHistograms: refused the same way."""
    body = request_v2(histograms=[HISTOGRAMS["basic_histogram"], HISTOGRAMS["minimal_histogram"]])
    validate(send(api, body), success=False, histograms=2)


# --- rw1_compat_test.go ----------------------------------------------------------------

RW1_HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"}


def test_rw1_basic_compatibility(api: ApiServer) -> None:
    """TestRW1BasicCompatibility: 1.0 is accepted, and answered without the 2.0
    ``*-Written`` headers (the suite expects 0 samples counted)."""
    body = write_request_v1([Series(up("localhost:9090"), [(T0, 1.0)]),
                             Series({"__name__": "http_requests_total"}, [(T0, 100.0)])])
    response = send(api, body, RW1_HEADERS)
    validate(response, success=True, samples=0)
    assert not any(name.lower().startswith("x-prometheus-remote-write-")
                   for name in response.headers)
    assert response.headers["X-Metrics-Rpc-Samples-Written"] == "2"


def test_rw1_error_handling(api: ApiServer) -> None:
    """TestRW1ErrorHandling: a corrupt snappy header is a 4xx."""
    body = write_request_v1([Series({"__name__": "error_test"}, [(T0, 1.0)])])
    validate(send(api, b"\xff" + body[1:], RW1_HEADERS), success=False)
