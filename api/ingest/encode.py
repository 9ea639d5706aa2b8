"""Samples → snappy-compressed remote-write request bodies, for backfill, tests and bench.

The inverse of :mod:`api.ingest.decode`: what Prometheus itself sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import cramjam

from api.ingest._proto import remote_pb2, write_v2_pb2

V1_HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
V2_HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
    "X-Prometheus-Remote-Write-Version": "2.0.0",
}


class Series(NamedTuple):
    """One label set (``__name__`` included), its (timestamp ms, value) samples and its
    (timestamp ms, value, exemplar labels) exemplars."""

    labels: Mapping[str, str]
    samples: Sequence[tuple[int, float]]
    exemplars: Sequence[tuple[int, float, Mapping[str, str]]] = ()


def compress(raw: bytes) -> bytes:
    """Snappy *block* format, as remote write requires (not the framed format)."""
    return bytes(cramjam.snappy.compress_raw(raw))


def encode_v1(series: Iterable[Series]) -> bytes:
    """An uncompressed ``prometheus.WriteRequest`` (labels sorted by name, as senders must)."""
    request = remote_pb2.WriteRequest()
    for one in series:
        out = request.timeseries.add()
        for name in sorted(one.labels):
            out.labels.add(name=name, value=one.labels[name])
        for ms, value in one.samples:
            out.samples.add(timestamp=ms, value=value)
        for ms, value, labels in one.exemplars:
            exemplar = out.exemplars.add(timestamp=ms, value=value)
            for name, text in labels.items():
                exemplar.labels.add(name=name, value=text)
    data: bytes = request.SerializeToString()
    return data


def encode_v2(series: Iterable[Series]) -> bytes:
    """An uncompressed ``io.prometheus.write.v2.Request`` with its symbol table."""
    request = write_v2_pb2.Request()
    symbols: dict[str, int] = {"": 0}

    def ref(text: str) -> int:
        index = symbols.get(text)
        if index is None:
            index = symbols[text] = len(symbols)
        return index

    for one in series:
        out = request.timeseries.add()
        for name in sorted(one.labels):
            out.labels_refs.extend((ref(name), ref(one.labels[name])))
        for ms, value in one.samples:
            out.samples.add(timestamp=ms, value=value)
        for ms, value, labels in one.exemplars:
            exemplar = out.exemplars.add(timestamp=ms, value=value)
            for name, text in labels.items():
                exemplar.labels_refs.extend((ref(name), ref(text)))
    request.symbols.extend(symbols)  # dicts keep insertion order: index i is symbol i
    data: bytes = request.SerializeToString()
    return data


def write_request_v1(series: Iterable[Series]) -> bytes:
    """A request body ready to POST with :data:`V1_HEADERS`."""
    return compress(encode_v1(series))


def write_request_v2(series: Iterable[Series]) -> bytes:
    """A request body ready to POST with :data:`V2_HEADERS`."""
    return compress(encode_v2(series))
