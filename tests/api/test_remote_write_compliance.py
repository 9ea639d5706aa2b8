"""Prometheus' remote-write receiver compliance cases (``prometheus/compliance``,
``remotewrite/receiver/*_test.go``), ported: each test is named after the suite's test and
its case, and checks what the suite's ``validateResponse`` checks (the status class, the
exact status where the suite names one, and the ``X-Prometheus-Remote-Write-*-Written``
counts: exact on 2xx, at most the expected ones on 4xx; a missing header counts 0).

Ported: every receiver test file: metric_test.go (single and multiple metrics, created
timestamp), request_test.go (content types, encodings, corrupt body), histograms_test.go,
rw1_compat_test.go, exemplar_test.go, metadata_test.go and combined_test.go (requests built
as the suite's ``generateRequest`` builds them: :func:`generate_request`). The suite runs
each success case twice ("<case> returns 204", SHOULD, and "<case>", MUST); one strict
check here covers both.

Cases that cannot apply: every case with a native histogram. We store floats only, so a
histogram is refused with a documented 400 (docs/INGEST.md; the spec lets a receiver
refuse them), with the exemplars of its series; those tests check that 400, where the
suite expects 204 ("NOT APPLICABLE" in their docstrings).

Exemplars are stored (docs/INGEST.md, "Exemplars"), so ``Exemplars-Written`` is the exact
count; metadata (type, help, unit) is accepted and not stored: no response header counts
it, and nothing reads it.

Every value case passes: NaN and ±Inf are stored, a stale marker is taken as the end of
its series (docs/INGEST.md, "Non-finite samples"). The suite runs each case against a
fresh receiver; here one database serves them all, so each value case writes at its own
time (one value per series and time, as the suite's receivers see it).
"""

from __future__ import annotations

import itertools
import math
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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
        fill_histogram(series.histograms.add(), shape, T0 + i)
    request.symbols.extend(symbols)
    return compress(request.SerializeToString())


def fill_histogram(h: Any, shape: Histogram, timestamp: int) -> None:
    """A native histogram of ``shape`` (the suite's ``histogram`` helper, smaller)."""
    h.timestamp, h.sum, h.schema, h.zero_threshold = timestamp, 1.0, 0, 1e-128
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


# --- the suite's generateRequest, with exemplars and metadata ---------------------------

# One "now" per generated request, as the suite's ticker gives (10 ms apart there; a
# second apart here): half an hour after T0, so the suite's offsets (up to an hour back)
# stay inside the ingest window, and no two requests write a series at the same time.
_NOW_BASE = T0 + 30 * 60_000
_requests = itertools.count()

COUNTER = write_v2_pb2.Metadata.METRIC_TYPE_COUNTER
GAUGE = write_v2_pb2.Metadata.METRIC_TYPE_GAUGE
HISTOGRAM = write_v2_pb2.Metadata.METRIC_TYPE_HISTOGRAM
MINUTE = 60_000
HOUR = 60 * MINUTE


@dataclass
class Sample:
    labels: Mapping[str, str]
    value: float
    offset: int = 0  # ms from the request's now
    created: int | None = None  # created timestamp, ms from now


@dataclass
class Hist:
    labels: Mapping[str, str]
    shape: Histogram
    offset: int = 0
    created: int | None = None


@dataclass
class Exemplar:
    labels: Mapping[str, str]  # the series it belongs to
    exemplar_labels: Mapping[str, str]
    value: float
    offset: int = 0


@dataclass
class Metadata:
    labels: Mapping[str, str]
    type: int
    help: str = ""
    unit: str = ""


def generate_request(samples: Sequence[Sample] = (), histograms: Sequence[Hist] = (),
                     exemplars: Sequence[Exemplar] = (), metadata: Sequence[Metadata] = (),
                     unsafe: bool = False) -> bytes:
    """helpers_test.go's generateRequest: one series per sample or histogram; an exemplar
    goes on the first series of its label set (the last one of a label set takes all that
    are left), else on a series of its own; metadata goes on every series of its metric
    name (empty names only when ``unsafe``), else on a series of its own."""
    now = _NOW_BASE + 1000 * next(_requests)
    request = write_v2_pb2.Request()
    symbols: dict[str, int] = {"": 0}

    def ref(text: str) -> int:
        return symbols.setdefault(text, len(symbols))

    def refs(labels: Mapping[str, str]) -> list[int]:
        return [r for name, value in labels.items() for r in (ref(name), ref(value))]

    by_name = {m.labels.get("__name__", ""): m for m in metadata
               if m.labels.get("__name__", "") or unsafe}
    used: set[int] = set()

    def attach(series: Any, labels: Mapping[str, str], last: bool) -> None:
        for i, exemplar in enumerate(exemplars):
            if i in used or dict(exemplar.labels) != dict(labels):
                continue
            series.exemplars.add(labels_refs=refs(exemplar.exemplar_labels),
                                 value=exemplar.value, timestamp=now + exemplar.offset)
            used.add(i)
            if not last:
                break
        name = labels.get("__name__", "")
        if (name or unsafe) and name in by_name:
            m = by_name[name]
            series.metadata.type = m.type
            series.metadata.help_ref = ref(m.help)
            series.metadata.unit_ref = ref(m.unit)

    def last_of(items: Sequence[Sample] | Sequence[Hist]) -> dict[str, int]:
        return {repr(sorted(item.labels.items())): i for i, item in enumerate(items)}

    last_sample = last_of(samples)
    for i, sample in enumerate(samples):
        series = request.timeseries.add()
        series.labels_refs.extend(refs(sample.labels))
        attach(series, sample.labels, last_sample[repr(sorted(sample.labels.items()))] == i)
        series.samples.add(value=sample.value, timestamp=now + sample.offset)
        if sample.created is not None:
            series.created_timestamp = now + sample.created
    last_hist = last_of(histograms)
    for i, hist in enumerate(histograms):
        series = request.timeseries.add()
        series.labels_refs.extend(refs(hist.labels))
        attach(series, hist.labels, last_hist[repr(sorted(hist.labels.items()))] == i)
        fill_histogram(series.histograms.add(), hist.shape, now + hist.offset)
        if hist.created is not None:
            series.created_timestamp = now + hist.created
    matched = [dict(x.labels) for x in (*samples, *histograms)]
    for i, exemplar in enumerate(exemplars):
        if i not in used and dict(exemplar.labels) not in matched:
            series = request.timeseries.add()
            series.labels_refs.extend(refs(exemplar.labels))
            series.exemplars.add(labels_refs=refs(exemplar.exemplar_labels),
                                 value=exemplar.value, timestamp=now + exemplar.offset)
    names = {x.labels.get("__name__", "") for x in (*samples, *histograms)}
    for m in metadata:
        name = m.labels.get("__name__", "")
        if name and name not in names:
            series = request.timeseries.add()
            series.labels_refs.extend(refs(m.labels))
            series.metadata.type = m.type
            series.metadata.help_ref = ref(m.help)
            series.metadata.unit_ref = ref(m.unit)
    request.symbols.extend(symbols)
    return compress(request.SerializeToString())


def basic(name: str) -> dict[str, str]:
    return {"__name__": name}


def trace(trace_id: str) -> dict[str, str]:
    return {"trace_id": trace_id}


def assert_histograms_refused(response: httpx.Response, histograms: int,
                              exemplars: int = 0) -> None:
    """NOT APPLICABLE: the suite expects 204; native histograms are our documented 400,
    with the exemplars of their series, and nothing of them written."""
    validate(response, success=False, histograms=histograms, exemplars=exemplars)
    assert "native histograms are not supported" in response.text
    assert written(response, "Histograms") == 0


# --- exemplar_test.go ------------------------------------------------------------------

EXEMPLAR_CASES = {
    "basic_exemplar": ({"__name__": "http_requests_total", "job": "api"},
                       trace("abc123def456"), 1.0),
    "exemplar_with_span_id": ({"__name__": "request_duration_seconds", "method": "GET"},
                              {"trace_id": "xyz789", "span_id": "span123"}, 0.125),
    "exemplar_without_trace_id": ({"__name__": "cpu_usage", "instance": "host1"},
                                  {"user_id": "user123"}, 0.85),
    "exemplar_with_multiple_labels": ({"__name__": "request_latency", "service": "auth"},
                                      {"trace_id": "trace456", "user": "admin",
                                       "endpoint": "/login"}, 0.05),
    "exemplar_no_labels": (basic("simple_counter"), {}, 1.0),
    "exemplar_with_special_chars": (basic("test_metric"),
                                    trace("trace-with-dashes_and_underscores.123"), 42.0),
    "exemplar_with_unicode": ({"__name__": "unicode_test", "region": "🌍"},
                              trace("unicode_trace_测试"), 100.0),
}


@pytest.mark.parametrize("case", EXEMPLAR_CASES)
def test_exemplars(api: ApiServer, case: str) -> None:
    """TestExemplars/<case> (and "<case> returns 204")."""
    labels, exemplar_labels, value = EXEMPLAR_CASES[case]
    body = generate_request([Sample(labels, value)],
                            exemplars=[Exemplar(labels, exemplar_labels, value)])
    validate(send(api, body), success=True, samples=1, exemplars=1)


def test_exemplar_with_created_timestamp(api: ApiServer) -> None:
    """TestExemplarWithCreatedTimestamp."""
    labels = {"__name__": "http_requests_total", "job": "api"}
    body = generate_request([Sample(labels, 250.0, created=-2 * HOUR)],
                            exemplars=[Exemplar(labels, {"trace_id": "abc123",
                                                         "span_id": "span456"}, 250.0)])
    validate(send(api, body), success=True, samples=1, exemplars=1)


def test_multiple_exemplars(api: ApiServer) -> None:
    """TestMultipleExemplars."""
    get = {"__name__": "request_duration", "method": "GET"}
    post = {"__name__": "request_duration", "method": "POST"}
    errors = {"__name__": "error_count", "service": "payment"}
    body = generate_request(
        [Sample(get, 0.1), Sample(post, 0.25), Sample(errors, 1.0)],
        exemplars=[Exemplar(get, {"trace_id": "trace1", "span_id": "span1"}, 0.1),
                   Exemplar(post, {"trace_id": "trace2", "span_id": "span2"}, 0.25),
                   Exemplar(errors, {"trace_id": "trace3", "user": "test_user"}, 1.0)])
    validate(send(api, body), success=True, samples=3, exemplars=3)


def test_exemplar_timestamps(api: ApiServer) -> None:
    """TestExemplarTimestamps: three samples and exemplars of one series, an hour apart."""
    labels = basic("latency_hist")
    body = generate_request(
        [Sample(labels, 0.05, -HOUR), Sample(labels, 0.15, -MINUTE), Sample(labels, 0.08)],
        exemplars=[Exemplar(labels, trace("old_trace"), 0.05, -HOUR),
                   Exemplar(labels, trace("recent_trace"), 0.15, -MINUTE),
                   Exemplar(labels, trace("current_trace"), 0.08)])
    validate(send(api, body), success=True, samples=3, exemplars=3)


EXEMPLAR_VALIDATION = {
    "exemplar_without_name_label": ({"job": "test"}, False),
    "exemplar_with_empty_name": ({"__name__": ""}, False),
    "exemplar_with_valid_name": (basic("valid_metric"), True),
}


@pytest.mark.parametrize("case", EXEMPLAR_VALIDATION)
def test_exemplar_validation(api: ApiServer, case: str) -> None:
    """TestExemplarValidation/<case>: an exemplar of a series without a name is refused
    with its sample (400)."""
    labels, success = EXEMPLAR_VALIDATION[case]
    body = generate_request([Sample(labels, 1.0)],
                            exemplars=[Exemplar(labels, trace("test_trace"), 1.0)])
    validate(send(api, body), success=success, samples=1, exemplars=1, strict=False)


EXEMPLAR_VALUES = {"zero_value": 0.0, "negative_value": -123.456, "large_value": 1e10,
                   "small_value": 1e-10, "nan_value": math.nan, "inf_value": math.inf,
                   "-inf_value": -math.inf}


@pytest.mark.parametrize("case", EXEMPLAR_VALUES)
def test_exemplar_special_values(api: ApiServer, case: str) -> None:
    """TestExemplarSpecialValues/<case> (value.NormalNaN is Python's NaN)."""
    value = EXEMPLAR_VALUES[case]
    body = generate_request([Sample(basic("test_metric"), value)],
                            exemplars=[Exemplar(basic("test_metric"),
                                                trace("special_value_trace"), value)])
    validate(send(api, body), success=True, samples=1, exemplars=1)


# --- metadata_test.go: metadata is accepted, not stored (docs/INGEST.md) ----------------

METADATA_CASES = {
    "counter_metadata": (basic("http_requests_total"), COUNTER,
                         "Total number of HTTP requests", "requests"),
    "gauge_metadata": (basic("cpu_usage_percent"), GAUGE, "Current CPU usage percentage",
                       "percent"),
    "metadata_no_help_no_unit": (basic("simple_counter"), COUNTER, "", ""),
    "metadata_with_special_chars": ({"__name__": "test_metric", "job": "test"}, GAUGE,
                                    'Test metric with\nnewlines and "quotes"', "bytes/sec"),
    "unspecified_metadata_type": (basic("unknown_metric"),
                                  write_v2_pb2.Metadata.METRIC_TYPE_UNSPECIFIED,
                                  "Unknown metric type", ""),
    "info_metadata_type": (basic("build_info"), write_v2_pb2.Metadata.METRIC_TYPE_INFO,
                           "Build information", ""),
    "stateset_metadata_type": (basic("node_state"),
                               write_v2_pb2.Metadata.METRIC_TYPE_STATESET,
                               "Node state information", ""),
    "summary_metadata_type": (basic("request_latency_summary"),
                              write_v2_pb2.Metadata.METRIC_TYPE_SUMMARY,
                              "Request latency summary", "seconds"),
    "gauge_histogram_metadata_type": (basic("temperature_histogram"),
                                      write_v2_pb2.Metadata.METRIC_TYPE_GAUGEHISTOGRAM,
                                      "Temperature distribution gauge histogram", "celsius"),
}


@pytest.mark.parametrize("case", METADATA_CASES)
def test_metadata(api: ApiServer, case: str) -> None:
    """TestMetadata/<case>: metadata with a sample of its series."""
    labels, kind, help_text, unit = METADATA_CASES[case]
    body = generate_request([Sample(labels, 1.0)],
                            metadata=[Metadata(labels, kind, help_text, unit)])
    validate(send(api, body), success=True, samples=1)


def test_metadata__histogram_metadata(api: ApiServer) -> None:
    """TestMetadata/histogram_metadata: NOT APPLICABLE (a native histogram)."""
    labels = basic("request_duration_seconds")
    body = generate_request(histograms=[Hist(labels, Histogram(True, True, True))],
                            metadata=[Metadata(labels, HISTOGRAM,
                                               "Request duration in seconds", "seconds")])
    assert_histograms_refused(send(api, body), histograms=1)


def test_counter_metadata_with_created_timestamp(api: ApiServer) -> None:
    """TestCounterMetadataWithCreatedTimestamp."""
    body = generate_request(
        [Sample({"__name__": "http_requests_total", "job": "api"}, 150.0, created=-HOUR)],
        metadata=[Metadata(basic("http_requests_total"), COUNTER, "Total HTTP requests",
                           "requests")])
    validate(send(api, body), success=True, samples=1)


def test_metadata_with_samples(api: ApiServer) -> None:
    """TestMetadataWithSamples."""
    body = generate_request(
        [Sample({"__name__": "http_requests_total", "job": "test"}, 42.0)],
        metadata=[Metadata(basic("http_requests_total"), COUNTER, "Total HTTP requests",
                           "requests")])
    validate(send(api, body), success=True, samples=1)


def test_multiple_metadata(api: ApiServer) -> None:
    """TestMultipleMetadata."""
    disk = {"__name__": "disk_usage", "device": "sda1"}
    body = generate_request(
        [Sample(basic("cpu_usage"), 85.5), Sample(basic("memory_usage"), 4096000000),
         Sample(disk, 75.2)],
        metadata=[Metadata(basic("cpu_usage"), GAUGE, "CPU usage percentage", "percent"),
                  Metadata(basic("memory_usage"), GAUGE, "Memory usage in bytes", "bytes"),
                  Metadata(disk, GAUGE, "Disk usage percentage", "percent")])
    validate(send(api, body), success=True, samples=3)


def test_metadata_with_complex_labels(api: ApiServer) -> None:
    """TestMetadataWithComplexLabels: NOT APPLICABLE (a native histogram)."""
    labels = {"__name__": "http_request_duration_seconds", "job": "api-server",
              "instance": "localhost:8080", "method": "GET", "status": "200",
              "endpoint": "/api/v1/users"}
    body = generate_request(histograms=[Hist(labels, Histogram(True, True, True))],
                            metadata=[Metadata(labels, HISTOGRAM,
                                               "HTTP request duration in seconds", "seconds")])
    assert_histograms_refused(send(api, body), histograms=1)


METADATA_VALIDATION = {
    "metadata_without_name_label": ({"job": "test"}, COUNTER, False, False),
    "metadata_with_empty_name": ({"__name__": ""}, GAUGE, False, True),
    "metadata_with_valid_name": (basic("valid_metric_name"), COUNTER, True, False),
}


@pytest.mark.parametrize("case", METADATA_VALIDATION)
def test_metadata_validation(api: ApiServer, case: str) -> None:
    """TestMetadataValidation/<case>: the sample of a series without a name is refused."""
    labels, kind, success, unsafe = METADATA_VALIDATION[case]
    body = generate_request([Sample(labels, 1.0)],
                            metadata=[Metadata(labels, kind, "Test help", "unit")],
                            unsafe=unsafe)
    validate(send(api, body), success=success, samples=1, strict=False)


# --- histograms_test.go cases with metadata, exemplars or created timestamps ------------


def test_histogram_with_created_timestamp(api: ApiServer) -> None:
    """TestHistogramWithCreatedTimestamp: NOT APPLICABLE (a native histogram)."""
    body = generate_request(histograms=[Hist({"__name__": "request_duration_seconds",
                                              "job": "api"}, Histogram(True, True, True),
                                             created=-30 * MINUTE)])
    assert_histograms_refused(send(api, body), histograms=1)


def test_empty_histogram(api: ApiServer) -> None:
    """TestEmptyHistogram: NOT APPLICABLE (a native histogram)."""
    body = generate_request(histograms=[Hist(basic("empty_hist"), Histogram())])
    assert_histograms_refused(send(api, body), histograms=1)


def test_histogram_with_metadata(api: ApiServer) -> None:
    """TestHistogramWithMetadata: NOT APPLICABLE (a native histogram)."""
    body = generate_request(
        histograms=[Hist({"__name__": "request_duration_seconds", "job": "api"},
                         Histogram(True, True, True))],
        metadata=[Metadata(basic("request_duration_seconds"), HISTOGRAM,
                           "HTTP request duration in seconds", "seconds")])
    assert_histograms_refused(send(api, body), histograms=1)


def test_histogram_with_exemplar(api: ApiServer) -> None:
    """TestHistogramWithExemplar: NOT APPLICABLE (a native histogram, and its exemplar)."""
    labels = {"__name__": "http_request_duration_seconds", "method": "GET"}
    body = generate_request(
        histograms=[Hist(labels, Histogram(positive=True, zero=True))],
        exemplars=[Exemplar(labels, {"trace_id": "abc123def456", "span_id": "span789"},
                            1.23)])
    assert_histograms_refused(send(api, body), histograms=1, exemplars=1)


def test_histogram_with_metadata_and_exemplar(api: ApiServer) -> None:
    """TestHistogramWithMetadataAndExemplar: NOT APPLICABLE (a native histogram)."""
    labels = {"__name__": "response_size_bytes", "service": "upload"}
    body = generate_request(
        histograms=[Hist(labels, Histogram(True, True, True))],
        exemplars=[Exemplar(labels, {"trace_id": "large_upload_trace", "user_id": "user456"},
                            10485760)],
        metadata=[Metadata(basic("response_size_bytes"), HISTOGRAM,
                           "HTTP response size in bytes", "bytes")])
    assert_histograms_refused(send(api, body), histograms=1, exemplars=1)


def test_multiple_histograms_with_metadata(api: ApiServer) -> None:
    """TestMultipleHistogramsWithMetadata: NOT APPLICABLE (native histograms)."""
    cpu = {"__name__": "cpu_usage_histogram", "instance": "server1"}
    memory = {"__name__": "memory_usage_histogram", "instance": "server1"}
    body = generate_request(
        histograms=[Hist(cpu, Histogram(positive=True, zero=True)),
                    Hist(memory, Histogram(positive=True, negative=True))],
        metadata=[Metadata(basic("cpu_usage_histogram"), HISTOGRAM, "CPU usage distribution",
                           "ratio"),
                  Metadata(basic("memory_usage_histogram"), HISTOGRAM,
                           "Memory usage distribution", "bytes")])
    assert_histograms_refused(send(api, body), histograms=2)


# --- combined_test.go ------------------------------------------------------------------


def test_samples_with_metadata_and_exemplars(api: ApiServer) -> None:
    """TestSamplesWithMetadataAndExemplars."""
    labels = {"__name__": "http_requests_total", "job": "api", "method": "POST"}
    body = generate_request(
        [Sample(labels, 1.0)],
        metadata=[Metadata(labels, COUNTER, "Total number of HTTP requests", "requests")],
        exemplars=[Exemplar(labels, {"trace_id": "request_trace_123", "user_id": "user789"},
                            1.0)])
    validate(send(api, body), success=True, samples=1, exemplars=1)


def test_histograms_with_metadata_and_exemplars(api: ApiServer) -> None:
    """TestHistogramsWithMetadataAndExemplars: NOT APPLICABLE (a native histogram)."""
    labels = {"__name__": "request_duration_seconds", "service": "auth"}
    body = generate_request(
        histograms=[Hist(labels, Histogram(True, True, True))],
        metadata=[Metadata(basic("request_duration_seconds"), HISTOGRAM,
                           "HTTP request duration distribution", "seconds")],
        exemplars=[Exemplar(labels, {"trace_id": "slow_request_trace", "endpoint": "/login"},
                            0.456)])
    assert_histograms_refused(send(api, body), histograms=1, exemplars=1)


def test_complex_samples_request(api: ApiServer) -> None:
    """TestComplexSamplesRequest."""
    cpu = {"__name__": "cpu_usage", "instance": "server1"}
    memory = {"__name__": "memory_usage", "instance": "server1"}
    body = generate_request(
        [Sample(cpu, 0.85), Sample(memory, 8589934592)],
        metadata=[Metadata(basic("cpu_usage"), GAUGE, "CPU usage ratio", "ratio"),
                  Metadata(basic("memory_usage"), GAUGE, "Memory usage in bytes", "bytes")],
        exemplars=[Exemplar(cpu, {"trace_id": "high_cpu_trace", "process": "worker"}, 0.85)])
    validate(send(api, body), success=True, samples=2, exemplars=1)


def test_complex_histograms_request(api: ApiServer) -> None:
    """TestComplexHistogramsRequest: NOT APPLICABLE (native histograms)."""
    response_time = {"__name__": "response_time_hist", "endpoint": "/api/v1/users"}
    body = generate_request(
        histograms=[Hist(response_time, Histogram(positive=True, zero=True)),
                    Hist({"__name__": "request_size_hist", "method": "POST"},
                         Histogram(negative=True, zero=True))],
        metadata=[Metadata(basic("response_time_hist"), HISTOGRAM,
                           "Response time distribution", "seconds"),
                  Metadata(basic("request_size_hist"), HISTOGRAM,
                           "Request size distribution", "bytes")],
        exemplars=[Exemplar(response_time, {"trace_id": "fast_response", "user": "premium"},
                            0.125)])
    assert_histograms_refused(send(api, body), histograms=2, exemplars=1)


def test_multiple_metric_families_samples(api: ApiServer) -> None:
    """TestMultipleMetricFamiliesSamples."""
    counter = {"__name__": "http_requests_total", "status": "200"}
    gauge = {"__name__": "temperature_celsius", "location": "datacenter1"}
    body = generate_request(
        [Sample(counter, 1000), Sample(gauge, 23.5)],
        metadata=[Metadata(basic("http_requests_total"), COUNTER, "Total HTTP requests",
                           "requests"),
                  Metadata(basic("temperature_celsius"), GAUGE, "Temperature in Celsius",
                           "celsius")],
        exemplars=[Exemplar(counter, trace("successful_request"), 1000)])
    validate(send(api, body), success=True, samples=2, exemplars=1)


def test_multiple_metric_families_histograms(api: ApiServer) -> None:
    """TestMultipleMetricFamiliesHistograms: NOT APPLICABLE (a native histogram)."""
    labels = {"__name__": "request_duration_seconds", "handler": "/metrics"}
    body = generate_request(
        histograms=[Hist(labels, Histogram(positive=True, zero=True))],
        metadata=[Metadata(basic("request_duration_seconds"), HISTOGRAM,
                           "Request duration in seconds", "seconds")],
        exemplars=[Exemplar(labels, {"trace_id": "metrics_scrape", "scraper": "prometheus"},
                            0.003)])
    assert_histograms_refused(send(api, body), histograms=1, exemplars=1)


def test_edge_case_combinations__metadata_without_data(api: ApiServer) -> None:
    """TestEdgeCaseCombinations/metadata_without_data: taken, nothing to write."""
    body = generate_request(metadata=[Metadata(basic("orphan_metric"), COUNTER,
                                               "Orphaned metric metadata", "count")],
                            unsafe=True)
    validate(send(api, body), success=True, strict=False)


def test_edge_case_combinations__exemplars_without_data(api: ApiServer) -> None:
    """TestEdgeCaseCombinations/exemplars_without_data: the exemplar is stored (its series
    registered, as a sample's would be)."""
    body = generate_request(exemplars=[Exemplar(basic("orphan_metric"), trace("orphan_trace"),
                                                42.0)], unsafe=True)
    validate(send(api, body), success=True, exemplars=1, strict=False)


def test_edge_case_combinations__mixed_timestamp_data(api: ApiServer) -> None:
    """TestEdgeCaseCombinations/mixed_timestamp_data."""
    body = generate_request(
        [Sample(basic("old_metric"), 1.0, -HOUR), Sample(basic("new_metric"), 2.0)],
        exemplars=[Exemplar(basic("old_metric"), trace("old_trace"), 1.0, -30 * MINUTE)])
    validate(send(api, body), success=True, samples=2, exemplars=1, strict=False)


def test_many_samples(api: ApiServer) -> None:
    """TestManySamples: 50 series with metadata and an exemplar each."""
    samples, metadata, exemplars = [], [], []
    for i in range(50):
        name = f"counter_metric_{i}"
        labels = {"__name__": name, "series": f"series_{i}"}
        samples.append(Sample(labels, float(i * 100)))
        metadata.append(Metadata(basic(name), COUNTER, f"Counter metric number {i}", "count"))
        exemplars.append(Exemplar(labels, trace(f"trace_{i}"), float(i * 100)))
    body = generate_request(samples, metadata=metadata, exemplars=exemplars)
    validate(send(api, body), success=True, samples=50, exemplars=50)


def test_many_histograms(api: ApiServer) -> None:
    """TestManyHistograms: NOT APPLICABLE (native histograms)."""
    histograms, metadata, exemplars = [], [], []
    for i in range(50):
        name = f"histogram_metric_{i}"
        labels = {"__name__": name, "bucket": f"bucket_{i}"}
        histograms.append(Hist(labels, Histogram(positive=True, negative=i % 2 == 0,
                                                 zero=True)))
        metadata.append(Metadata(basic(name), HISTOGRAM, f"Histogram metric number {i}",
                                 "seconds"))
        exemplars.append(Exemplar(labels, trace(f"trace_{i}"), i / 10))
    body = generate_request(histograms=histograms, metadata=metadata, exemplars=exemplars)
    assert_histograms_refused(send(api, body), histograms=50, exemplars=50)


def test_special_characters_combined(api: ApiServer) -> None:
    """TestSpecialCharactersCombined."""
    labels = {"__name__": "test_metric", "job": "test-job_with.special@chars",
              "instance": "localhost:9090", "environment": "test🚀"}
    body = generate_request(
        [Sample(labels, 42.0)],
        metadata=[Metadata(basic("test_metric"), GAUGE,
                           'Test metric with special characters: äöü, newlines\nand "quotes"',
                           "special/units")],
        exemplars=[Exemplar(labels, {"trace_id": "special_trace_äöü-123",
                                     "span_id": "span_with.dots-and_underscores"}, 42.0)])
    validate(send(api, body), success=True, samples=1, exemplars=1)


def test_custom_buckets_histogram_with_exemplar(api: ApiServer) -> None:
    """TestCustomBucketsHistogramWithExemplar: NOT APPLICABLE (a native histogram)."""
    labels = {"__name__": "custom_latency_hist", "version": "v2"}
    body = generate_request(
        histograms=[Hist(labels, Histogram(custom_buckets=True))],
        exemplars=[Exemplar(labels, {"trace_id": "custom_bucket_trace", "bucket": "0.1"},
                            0.05)])
    assert_histograms_refused(send(api, body), histograms=1, exemplars=1)
