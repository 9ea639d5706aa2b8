"""Remote-write bodies → the series and sample arrays ``ingest.write_series_samples`` takes. Pure.

Headers pick the message (1.0 ``prometheus.WriteRequest`` or 2.0
``io.prometheus.write.v2.Request``); the body is snappy *block* compressed protobuf.
A body that cannot be read at all raises ``InvalidBody`` (400) or ``UnsupportedMediaType``
(415) of :mod:`api.errors`; single samples
that cannot be stored are counted (rejected or skipped) and the rest still go through.

What happens to each sample (see docs/INGEST.md):

- stale marker (the NaN with bits ``0x7ff0000000000002``): passed on as it is; the
  database takes it as the end of its series (a float8 keeps its NaN payload through
  asyncpg's binary format), never as a value.
- any other NaN, +Inf, -Inf: passed on and stored as a value; left out of every sum and
  rollup in the database.
- rejected (→ 400 after the valid samples are written): no ``__name__``, an empty or
  repeated label name, a timestamp ≤ 0 or past year 9999, a big-number label (``supply``,
  ``excluded_supply``, ``amount``) that is not a plain decimal number, native histograms
  (we store floats only), in 2.0 a bad symbol reference, and series over the label
  limits (:class:`LabelLimits`: name and value length, labels per series, and the series
  identity's size, which must fit a PostgreSQL index row).
- a body of the other protocol version than the ``Content-Type`` says: ``InvalidBody``.
- a label with an empty value is the same as no label (Prometheus semantics) and dropped.

Exemplars are read in a pass of their own (:func:`_decode_exemplars`) into the
``exemplar_*`` arrays of ``ingest.write_exemplars``: one of a rejected series, of a native
histogram, with bad labels (empty or repeated name, a NUL, over
``MAX_EXEMPLAR_LABELS_LENGTH``) or a timestamp out of range is rejected (→ 400), the rest
is written.

Everything per series (the label set parsed, ``__name__`` split off, the value label taken
out of the identity, the identity as JSON text) is done once per distinct label set and
cached by its raw bytes (a 1.0 set with a big-number label, new almost every sample: by
its template, the set with that label's value cut off); per sample the decoder only
appends its series' position, time, value and value label.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import cramjam
import msgspec
from google.protobuf.message import DecodeError as _ProtobufDecodeError

from api.errors import InvalidBody, UnsupportedMediaType
from api.ingest._proto import remote_view_pb2, types_pb2, write_v2_pb2

STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]
# Exporters send token amounts as label values (float64 would lose digits); the first
# present one is the sample's value, computed exactly in SQL. We only check the syntax so a
# malformed one rejects its sample instead of failing the whole batch in the database.
# Both rules live in sql/functions/metrics/00_routing.sql (metrics.value_labels,
# metrics.label_number); tests/api/test_series_identity.py checks these copies agree.
BIG_NUMBER_LABELS = ("supply", "excluded_supply", "amount")
_WS = r"[ \t\n\r\f\v]*"
_DECIMAL = re.compile(_WS + r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?" + _WS)
_MAX_DECIMAL_LENGTH = 1000
_MAX_TIMESTAMP_MS = 253_402_300_800_000  # 10000-01-01: past what timestamptz/datetime take
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A series identity (name + labels JSON) is a key of metrics.series' unique index, whose
# rows PostgreSQL caps at 2,704 bytes: a larger one would fail the whole batch (54000).
MAX_SERIES_IDENTITY_BYTES = 2048
# Characters of an exemplar's label names and values together: OpenMetrics' limit, which
# Prometheus enforces (ExemplarMaxLabelSetLength).
MAX_EXEMPLAR_LABELS_LENGTH = 128
_json_encode = msgspec.json.Encoder().encode
# Bodies up to this size (uncompressed; a usual 2,000-sample request is ~250 KB) are looked
# through for exemplars and histograms in one pass, larger ones series by series.
_EXTRAS_PASS_MAX_BYTES = 4 << 20


@dataclass(frozen=True, slots=True)
class LabelLimits:
    """Per-series label limits (``METRICS_RPC_INGEST_MAX_LABEL_*``); ``__name__`` counts."""

    max_name_length: int = 128
    max_value_length: int = 1024
    max_labels: int = 30

    def problem(self, shape: LabelShape) -> str | None:
        """Why a label set of this shape is refused, or None."""
        labels, longest_name, longest_value, identity_bytes = shape
        if labels > self.max_labels:
            return f"more than {self.max_labels} labels"
        if longest_name > self.max_name_length:
            return f"label name longer than {self.max_name_length} characters"
        if longest_value > self.max_value_length:
            return f"label value longer than {self.max_value_length} characters"
        if identity_bytes > MAX_SERIES_IDENTITY_BYTES:
            return f"labels larger than {MAX_SERIES_IDENTITY_BYTES} bytes"
        return None


# (labels, longest name, longest value, bytes of the series identity)
LabelShape = tuple[int, int, int, int]


class Protocol(Enum):
    """The protobuf message of a request, named as in ``Content-Type: …;proto=<name>``."""

    V1 = "prometheus.WriteRequest"
    V2 = "io.prometheus.write.v2.Request"


@dataclass(slots=True)
class DecodedWrite:
    """One request as the arrays of ``ingest.write_series_samples`` plus tallies.

    Per distinct series of the request (its identity: name and labels without ``__name__``
    and the value labels, as JSON text): ``series_names``, ``series_labels``. Per accepted
    sample: ``series`` (the 1-based position of its series in those lists), ``millis``
    (its timestamp, milliseconds since the epoch: cheaper to build and to send than
    datetimes; ``times`` gives them as datetimes),
    ``values`` and ``amounts`` (its ``supply``/``excluded_supply``/``amount`` label, the
    exact value, or None). Series keys are built once per label set and shared.
    """

    protocol: Protocol
    series_keys: list[SeriesKey] = field(default_factory=list)
    series: list[int] = field(default_factory=list)
    millis: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    amounts: list[str | None] = field(default_factory=list)
    received: int = 0  # float and histogram samples in the request
    rejected: dict[str, int] = field(default_factory=dict)  # reason → samples
    label_limited: int = 0  # samples of series over the label limits (also in rejected)
    histograms_received: int = 0
    exemplars_received: int = 0
    positions: dict[SeriesKey, int] = field(default_factory=dict)  # key → 1-based position
    # Per accepted exemplar: its series, time, value and own labels (a JSON object).
    exemplar_keys: list[SeriesKey] = field(default_factory=list)
    exemplar_times: list[datetime] = field(default_factory=list)
    exemplar_values: list[float] = field(default_factory=list)
    exemplar_labels: list[str] = field(default_factory=list)
    exemplars_rejected: dict[str, int] = field(default_factory=dict)  # reason → exemplars

    def position(self, key: SeriesKey) -> int:
        """The 1-based position of a series in ``series_keys``, added when new."""
        index = self.positions.get(key)
        if index is None:
            self.series_keys.append(key)
            index = self.positions[key] = len(self.series_keys)
        return index

    @property
    def series_names(self) -> list[str]:
        return [key[0] for key in self.series_keys]

    @property
    def series_labels(self) -> list[str]:
        return [key[1] for key in self.series_keys]

    @property
    def times(self) -> list[datetime]:
        """Per sample: its time."""
        return [_EPOCH + timedelta(milliseconds=ms) for ms in self.millis]

    @property
    def names(self) -> list[str]:
        """Per sample: its metric name."""
        keys = self.series_keys
        return [keys[i - 1][0] for i in self.series]

    @property
    def labels(self) -> list[str]:
        """Per sample: its series labels (JSON, without the value labels)."""
        keys = self.series_keys
        return [keys[i - 1][1] for i in self.series]

    @property
    def accepted(self) -> int:
        return len(self.values)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def reject(self, reason: str, count: int) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + count

    def reject_exemplars(self, reason: str, count: int) -> None:
        self.exemplars_rejected[reason] = self.exemplars_rejected.get(reason, 0) + count

    def exemplar_rejection_summary(self, written: int, more: dict[str, int]) -> str:
        """``1 of 3 exemplars rejected, 2 written: 1: …`` (part of the 400 message);
        ``more`` (reason → exemplars) adds the database's reasons."""
        reasons = dict(self.exemplars_rejected)
        for reason, count in more.items():
            reasons[reason] = reasons.get(reason, 0) + count
        details = "; ".join(f"{n}: {reason}" for reason, n in sorted(reasons.items()))
        return (f"{sum(reasons.values())} of {self.exemplars_received} exemplars rejected, "
                f"{written} written: {details}")

    def rejection_summary(self, written: int, refused_by_db: int = 0,
                          more: dict[str, int] | None = None) -> str:
        """``3 of 4 samples rejected, 1 written: 2: no __name__ label; 1: …`` (the 400
        message); ``written`` counts duplicates too, ``refused_by_db`` and ``more`` (reason
        → samples) add reasons."""
        reasons = dict(self.rejected)
        if refused_by_db:
            reasons["refused by the database"] = refused_by_db
        for reason, count in (more or {}).items():
            reasons[reason] = reasons.get(reason, 0) + count
        details = "; ".join(f"{n}: {reason}" for reason, n in sorted(reasons.items()))
        return (f"{sum(reasons.values())} of {self.received} samples rejected, "
                f"{written} written: {details}")


def negotiate(content_type: str | None, content_encoding: str | None) -> Protocol:
    """The message a request carries, from its headers, or a typed error."""
    if not content_encoding:
        raise InvalidBody("missing Content-Encoding header: remote write bodies are snappy")
    encoding = content_encoding.strip().lower()
    if encoding != "snappy":
        raise UnsupportedMediaType(
            f"unsupported Content-Encoding {content_encoding!r}: only 'snappy' (block format)"
        )
    if not content_type:
        raise InvalidBody("missing Content-Type header: expected application/x-protobuf")
    media_type, _, params = content_type.partition(";")
    if media_type.strip().lower() != "application/x-protobuf":
        raise UnsupportedMediaType(
            f"unsupported Content-Type {content_type!r}: expected application/x-protobuf"
        )
    proto = ""
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "proto":
            proto = value.strip().strip('"')
    if proto in ("", Protocol.V1.value):
        return Protocol.V1
    if proto == Protocol.V2.value:
        return Protocol.V2
    raise UnsupportedMediaType(
        f"unsupported proto {proto!r}: expected {Protocol.V1.value} or {Protocol.V2.value}"
    )


def decompressed_length(body: bytes) -> int:
    """The uncompressed length a snappy block announces (a varint up front); -1 if bad."""
    length, shift = 0, 0
    for byte in body[:10]:
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return length
    return -1


def decompress(body: bytes, max_bytes: int) -> memoryview:
    """Snappy block (not framed) decompression, refusing to inflate past ``max_bytes``."""
    if not body:
        raise InvalidBody("empty body: expected a snappy-compressed protobuf message")
    # Check the uncompressed length before allocating anything, so a small body cannot
    # make us inflate gigabytes.
    length = decompressed_length(body)
    if length < 0:
        raise InvalidBody("invalid snappy block: bad length header")
    if length > max_bytes:
        raise InvalidBody(
            f"decompressed body of {length} bytes exceeds the limit of {max_bytes} bytes"
        )
    try:
        return memoryview(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as exc:
        raise InvalidBody(f"invalid snappy block-compressed body: {exc}") from exc


def decode_request(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    *,
    max_decompressed_bytes: int = 64 * 1024 * 1024,
    limits: LabelLimits = LabelLimits(),
) -> DecodedWrite:
    """Headers and body of a remote-write request → its samples, or a typed error."""
    protocol = negotiate(content_type, content_encoding)
    raw = decompress(body, max_decompressed_bytes)
    out = decode_v1(raw, limits) if protocol is Protocol.V1 else decode_v2(raw, limits)
    if not out.received and raw:
        _check_version(protocol, raw)
    return out


def _check_version(protocol: Protocol, raw: memoryview) -> None:
    """A non-empty body with no series: refuse it when it reads as the other version
    (each version ignores the other's fields, so it would pass as an empty request)."""
    other: Any = (write_v2_pb2.Request() if protocol is Protocol.V1
                  else remote_view_pb2.WriteRequest())
    try:
        other.ParseFromString(raw)
    except _ProtobufDecodeError:
        return
    if other.timeseries:
        found = Protocol.V2 if protocol is Protocol.V1 else Protocol.V1
        raise InvalidBody(
            f"the body is a {found.value} message but Content-Type says {protocol.value}: "
            "send the matching proto= parameter"
        )


def _parse(message: Any, raw: memoryview | bytes, name: str) -> None:
    try:
        message.ParseFromString(raw)
    except _ProtobufDecodeError as exc:
        raise InvalidBody(f"invalid protobuf {name}: {exc}") from exc


def decode_v1(raw: memoryview | bytes, limits: LabelLimits = LabelLimits()) -> DecodedWrite:
    """An uncompressed ``prometheus.WriteRequest``.

    Parsed through a view of the message whose labels are raw bytes: a series' labels as a
    tuple of bytes are the key of the label-set cache, so a label set seen before (the usual
    case: Prometheus sends the same series every scrape) costs one dict lookup.
    """
    request = remote_view_pb2.WriteRequest()
    _parse(request, raw, Protocol.V1.value)
    out = DecodedWrite(Protocol.V1)
    _decode_series(out, request.timeseries, limits, _labels_v1, _label_set_v1,
                   _has_exemplars_or_histograms(raw, Protocol.V1))
    if out.exemplars_received:  # a second pass only for requests that carry some
        _decode_exemplars(out, request.timeseries, limits, _labels_v1, _label_set_v1,
                          _exemplars_v1)
    return out


def decode_v2(raw: memoryview | bytes, limits: LabelLimits = LabelLimits()) -> DecodedWrite:
    """An uncompressed ``io.prometheus.write.v2.Request`` (labels interned in ``symbols``)."""
    request = write_v2_pb2.Request()
    _parse(request, raw, Protocol.V2.value)
    out = DecodedWrite(Protocol.V2)
    symbols = list(request.symbols)

    def labels_v2(series: Any) -> tuple[str, ...] | None:
        try:
            return tuple([symbols[ref] for ref in series.labels_refs])
        except IndexError:
            return None

    def exemplars_v2(series: Any) -> Iterable[_Exemplar]:
        for exemplar in series.exemplars:
            refs = exemplar.labels_refs
            try:
                texts = [symbols[ref] for ref in refs]
            except IndexError:
                yield "exemplar label reference outside the symbols table", 0.0, 0
                continue
            if len(texts) % 2:
                yield "odd number of exemplar label references", 0.0, 0
                continue
            pairs = list(zip(texts[::2], texts[1::2], strict=True))
            yield pairs, exemplar.value, exemplar.timestamp

    _decode_series(out, request.timeseries, limits, labels_v2, _label_set_v2,
                   _has_exemplars_or_histograms(raw, Protocol.V2))
    if out.exemplars_received:
        _decode_exemplars(out, request.timeseries, limits, labels_v2, _label_set_v2,
                          exemplars_v2)
    return out


def _has_exemplars_or_histograms(raw: memoryview | bytes, protocol: Protocol) -> bool:
    """Whether any series of a request has exemplars or histograms (True when unsure)."""
    if len(raw) > _EXTRAS_PASS_MAX_BYTES:
        return True  # the pass holds a copy of the body (its unknown fields) for a moment
    extras: Any = (remote_view_pb2.RequestExtras() if protocol is Protocol.V1
                   else remote_view_pb2.RequestExtrasV2())
    try:
        extras.ParseFromString(raw)
    except _ProtobufDecodeError:  # not expected: it reads less than the request's own parse
        return True
    extras.DiscardUnknownFields()
    size: int = extras.ByteSize()
    return size != 2 * len(extras.timeseries)


def _labels_v1(series: Any) -> tuple[bytes, ...]:
    # a slice copies upb's repeated field in C: half the cost of iterating it
    return tuple(series.labels[:])


def _label_set_v1(key: tuple[Any, ...]) -> _LabelSet:
    return _with_value_label_v1(key) or _remember(key, _parsed_v1(key))


def _label_set_v2(key: tuple[Any, ...]) -> _LabelSet:
    if len(key) % 2:
        return _remember(key, (None, None, "odd number of label references", _NO_SHAPE))
    return _with_value_label_v2(key) or _remember(key, _parsed_v2(key))


def _decode_series(
    out: DecodedWrite, timeseries: Iterable[Any], limits: LabelLimits,
    labels_of: Callable[[Any], tuple[Any, ...] | None],
    label_set_of: Callable[[tuple[Any, ...]], _LabelSet], extras: bool,
) -> None:
    """The per-series loop both versions share: ``labels_of`` gives a series' label key
    (None: its label references are out of range), ``label_set_of`` reads a key the label
    set cache does not hold yet; ``extras``: some series have exemplars or histograms."""
    cache = _LABEL_SETS
    # A label set's shape decides its limits; a request has few distinct shapes (a
    # big-number label set has its series' shape but for the value's length).
    problems: dict[LabelShape, str | None] = {}
    positions, series_keys = out.positions, out.series_keys
    out_series, out_millis = out.series, out.millis
    out_values, out_amounts = out.values, out.amounts
    received = 0
    for series in timeseries:
        if extras:
            if series.histograms:
                _reject_histograms(out, len(series.histograms))
            if series.exemplars:
                out.exemplars_received += len(series.exemplars)
        samples = series.samples
        if not samples:
            continue
        count = len(samples)
        received += count
        key = labels_of(series)
        if key is None:
            out.reject("label reference outside the symbols table", count)
            continue
        label_set = cache.get(key)
        if label_set is None:
            label_set = label_set_of(key)
        series_key, amount, problem, shape = label_set
        if series_key is None:
            out.reject(problem or "invalid label set", count)
            continue
        try:
            problem = problems[shape]
        except KeyError:
            problem = problems[shape] = limits.problem(shape)
        if problem is not None:
            out.reject(problem, count)
            out.label_limited += count
            continue
        if count > 1:
            _append_samples(out, series_key, amount, samples)
            continue
        # one sample per series, as a backfill of high-churn label sets sends them: inline
        sample = samples[0]
        ms = sample.timestamp
        if not 0 < ms < _MAX_TIMESTAMP_MS:
            out.reject("timestamp missing or out of range", 1)
            continue
        index = positions.get(series_key)  # out.position(series_key), inlined
        if index is None:
            series_keys.append(series_key)
            index = positions[series_key] = len(series_keys)
        out_series.append(index)
        out_millis.append(ms)
        out_values.append(sample.value)
        out_amounts.append(amount)
    out.received += received


# One exemplar: its labels as (name, value) pairs, or why they cannot be read; value; time.
_Exemplar = tuple[list[tuple[str, str]] | str, float, int]


def _exemplars_v1(series: Any) -> Iterable[_Exemplar]:
    exemplar = types_pb2.Exemplar()
    for raw in series.exemplars:
        _parse(exemplar, raw, "prometheus.Exemplar")
        pairs = [(label.name, label.value) for label in exemplar.labels]
        yield pairs, exemplar.value, exemplar.timestamp


def _decode_exemplars(
    out: DecodedWrite, timeseries: Iterable[Any], limits: LabelLimits,
    labels_of: Callable[[Any], tuple[Any, ...] | None],
    label_set_of: Callable[[tuple[Any, ...]], _LabelSet],
    exemplars_of: Callable[[Any], Iterable[_Exemplar]],
) -> None:
    """The exemplars of every series, resolved to the series key its samples get (the
    label-set cache makes that a lookup); ``out.exemplars_received`` is counted by
    ``_decode_series``."""
    for series in timeseries:
        count = len(series.exemplars)
        if not count:
            continue
        if series.histograms and not series.samples:
            out.reject_exemplars("exemplar of a native histogram (not supported)", count)
            continue
        key = labels_of(series)
        if key is None:
            out.reject_exemplars("label reference outside the symbols table", count)
            continue
        label_set = _LABEL_SETS.get(key)
        if label_set is None:
            label_set = label_set_of(key)
        series_key, _amount, problem, shape = label_set
        if series_key is None or (problem := limits.problem(shape)) is not None:
            out.reject_exemplars(problem or "invalid label set", count)
            continue
        for pairs, value, ms in exemplars_of(series):
            labels, problem = (None, pairs) if isinstance(pairs, str) else _exemplar_labels(pairs)
            if labels is None:
                out.reject_exemplars(problem or "invalid exemplar labels", 1)
                continue
            if not 0 < ms < _MAX_TIMESTAMP_MS:
                out.reject_exemplars("exemplar timestamp missing or out of range", 1)
                continue
            out.exemplar_keys.append(series_key)
            out.exemplar_times.append(_EPOCH + timedelta(milliseconds=ms))
            out.exemplar_values.append(value)
            out.exemplar_labels.append(labels)


def _exemplar_labels(pairs: Iterable[tuple[str, str]]) -> tuple[str | None, str | None]:
    """(an exemplar's labels as a JSON object, None) or (None, why not)."""
    labels: dict[str, str] = {}
    seen: set[str] = set()
    length = 0
    for name, value in pairs:
        if not name:
            return None, "exemplar label with an empty name"
        if name in seen:
            return None, "repeated exemplar label name"
        if "\x00" in name or "\x00" in value:
            return None, "exemplar label contains a NUL character"
        seen.add(name)
        length += len(name) + len(value)
        if value:  # an empty value means the label is absent, as for series
            labels[name] = value
    if length > MAX_EXEMPLAR_LABELS_LENGTH:
        return None, f"exemplar labels longer than {MAX_EXEMPLAR_LABELS_LENGTH} characters"
    return _json_encode(labels).decode(), None


def _reject_histograms(out: DecodedWrite, count: int) -> None:
    out.received += count
    out.histograms_received += count
    out.reject("native histograms are not supported", count)


# A series identity: (metric name, labels without __name__ and the value labels as JSON).
SeriesKey = tuple[str, str]
# Label set (raw label bytes in 1.0, label strings in 2.0) → (series key, value label,
# problem, shape): the key and value label are None when the problem is not; the shape is
# checked against the limits of each request (they are settings, the cache is global).
# Bounded: emptied when full, which costs one re-decode per live series.
_LabelSet = tuple[SeriesKey | None, str | None, str | None, LabelShape]
_NO_SHAPE: LabelShape = (0, 0, 0, 0)
_LABEL_SETS: dict[tuple[Any, ...], _LabelSet] = {}
_LABEL_SET_CACHE_SIZE = 200_000
# The same key object for every label set of one series (the value labels differ per
# sample), so a request's dict of series positions hashes few distinct objects.
_SERIES_KEYS: dict[SeriesKey, SeriesKey] = {}


def _remember(key: tuple[Any, ...], label_set: _LabelSet) -> _LabelSet:
    if len(_LABEL_SETS) >= _LABEL_SET_CACHE_SIZE:
        _LABEL_SETS.clear()
        _SERIES_KEYS.clear()
    _LABEL_SETS[key] = label_set
    return label_set


# A big-number label as the 1.0 view's raw bytes start: field 1 (name), its length, name.
_VALUE_LABEL_PREFIXES = tuple(b"\n" + bytes([len(name)]) + name.encode()
                              for name in BIG_NUMBER_LABELS)
# 1.0 label sets with one big-number label, by template (the set with that label cut to
# its name and value length) → series key and shape; bounded like _LABEL_SETS.
_VALUE_TEMPLATES: dict[tuple[bytes, ...], tuple[SeriesKey, LabelShape]] = {}
# A label set's first label (its __name__ as senders sort them) → where the big-number
# label of a known template was: one check instead of a scan; emptied with the templates.
_VALUE_AT: dict[bytes, int] = {}


def _with_value_label_v1(key: tuple[bytes, ...]) -> _LabelSet | None:
    """A label set with exactly one big-number label, without parsing it whole (a
    big-number label changes every block, so the full set is new almost every sample, and
    not worth remembering): the rest from its template, the value label read from its
    bytes. None when anything is unusual: the full parse decides (and words the error)."""
    at = _VALUE_AT.get(key[0], -1) if key else -1
    hinted = 0 <= at < len(key) and key[at].startswith(_VALUE_LABEL_PREFIXES)
    if not hinted:
        at = next((i for i, raw in enumerate(key) if raw.startswith(_VALUE_LABEL_PREFIXES)),
                  -1)
        if at < 0:
            return None
    raw = key[at]
    cut = 4 + raw[1]  # field 1 (name), its length, the name, field 2 (value), one length byte
    value = raw[cut:]
    # a decimal of up to 127 characters
    if not value or raw[cut - 2] != 0x12 or raw[cut - 1] != len(value):
        return None
    text = _decimal_text(value)
    if text is None:
        return None
    # the set with the value cut to its name and length: the same for every sample of a
    # series, and it decides everything but the value
    template = (*key[:at], raw[:cut], *key[at + 1:])
    known = _VALUE_TEMPLATES.get(template)
    if known is None:
        known = _value_template(key, at, text)
        if known is None:
            return None
        if len(_VALUE_TEMPLATES) >= _LABEL_SET_CACHE_SIZE:
            _VALUE_TEMPLATES.clear()
            _VALUE_AT.clear()
        _VALUE_TEMPLATES[template] = known
    if not hinted:
        _VALUE_AT[key[0]] = at
    series_key, shape = known
    return series_key, text, None, shape


def _value_template(key: tuple[bytes, ...], at: int,
                    text: str) -> tuple[SeriesKey, LabelShape] | None:
    """What a label set whose only big-number label is ``key[at]`` (value ``text``) shares
    with the sets that differ from it in that value only, if the full parse accepts it."""
    if sum(raw.startswith(_VALUE_LABEL_PREFIXES) for raw in key) != 1:
        return None
    series_key, amount, _problem, shape = _parsed_v1(key)
    if series_key is None or amount != text:
        return None
    return series_key, shape


def _with_value_label_v2(key: tuple[str, ...]) -> _LabelSet | None:
    """``_with_value_label_v1`` for 2.0's label strings (name, value, name, value, …)."""
    found = -1
    for i in range(0, len(key), 2):
        if key[i] in BIG_NUMBER_LABELS:
            if found >= 0:
                return None
            found = i
    if found < 0:
        return None
    return _with_value(key[:found] + key[found + 2:], len(key[found]),
                       key[found + 1].encode(), _parsed_v2)


def _parsed_v1(key: tuple[Any, ...]) -> _LabelSet:
    return _label_set(_parse_labels(key))


def _parsed_v2(key: tuple[Any, ...]) -> _LabelSet:
    return _label_set(zip(key[::2], key[1::2], strict=True))


def _decimal_text(value: bytes) -> str | None:
    """A big-number label's value as text when it is a decimal, else None."""
    if value.isdigit():  # ASCII digits only: the usual amount, a decimal number
        return value.decode()
    try:
        text = value.decode()
    except UnicodeDecodeError:
        return None
    return text if _DECIMAL.fullmatch(text) else None


def _with_value(rest: tuple[Any, ...], name_length: int, value: bytes,
                parse: Any) -> _LabelSet | None:
    text = _decimal_text(value)
    if text is None:
        return None
    base = _LABEL_SETS.get(rest)
    if base is None:
        base = _remember(rest, parse(rest))
    series_key, amount, _problem, shape = base
    if series_key is None or amount is not None:
        return None
    labels, longest_name, longest_value, identity_bytes = shape
    return (series_key, text, None,
            (labels + 1, max(longest_name, name_length), max(longest_value, len(text)),
             identity_bytes))


def _parse_labels(raw_labels: tuple[bytes, ...]) -> list[tuple[str, str]]:
    label = types_pb2.Label()
    pairs = []
    for raw in raw_labels:
        # Also validates UTF-8, as parsing the whole message with string fields would.
        _parse(label, raw, "prometheus.Label")
        pairs.append((label.name, label.value))
    return pairs


def _label_set(pairs: Iterable[tuple[str, str]]) -> _LabelSet:
    """(series key, value label or None, problem or None, shape) of one label set."""
    name = ""
    labels: dict[str, str] = {}
    seen_name = False
    count = longest_name = longest_value = 0
    for key, value in pairs:
        count += 1
        longest_name = max(longest_name, len(key))
        longest_value = max(longest_value, len(value))
        if key == "__name__":
            if seen_name:
                return None, None, "repeated label name '__name__'", _NO_SHAPE
            seen_name, name = True, value
            continue
        if not key:
            return None, None, "empty label name", _NO_SHAPE
        if key in labels:
            return None, None, "repeated label name", _NO_SHAPE
        if value:  # an empty value means the label is absent
            labels[key] = value
    if not name:
        return None, None, "no __name__ label", _NO_SHAPE
    if "\x00" in name or any("\x00" in k or "\x00" in v for k, v in labels.items()):
        return None, None, "label contains a NUL character", _NO_SHAPE  # PostgreSQL text cannot
    amount = None
    for key in BIG_NUMBER_LABELS:
        text = labels.get(key)
        if text is not None:
            if len(text) > _MAX_DECIMAL_LENGTH or not _DECIMAL.fullmatch(text):
                return None, None, f"label {key!r} is not a decimal number", _NO_SHAPE
            amount = text
            break
    if amount is not None:
        for key in BIG_NUMBER_LABELS:
            labels.pop(key, None)
    series_key = (name, _json_encode(labels).decode())
    series_key = _SERIES_KEYS.setdefault(series_key, series_key)
    identity_bytes = len(series_key[0].encode()) + len(series_key[1].encode())
    return series_key, amount, None, (count, longest_name, longest_value, identity_bytes)


def _append_samples(out: DecodedWrite, key: SeriesKey, amount: str | None,
                    samples: Any) -> None:
    position = 0  # listed on its first sample
    out_series, out_millis = out.series, out.millis
    out_values, out_amounts = out.values, out.amounts
    for sample in samples:
        ms = sample.timestamp
        if not 0 < ms < _MAX_TIMESTAMP_MS:
            out.reject("timestamp missing or out of range", 1)
            continue
        if not position:
            position = out.position(key)
        out_series.append(position)
        out_millis.append(ms)
        out_values.append(sample.value)
        out_amounts.append(amount)
