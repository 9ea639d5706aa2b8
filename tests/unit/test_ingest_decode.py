"""api/ingest/decode.py: remote-write bodies → samples, without a database."""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from api.errors import InvalidBody, UnsupportedMediaType
from api.ingest import decode
from api.ingest._proto import remote_pb2, types_pb2, write_v2_pb2
from api.ingest.decode import (
    STALE_NAN,
    Protocol,
    decode_request,
    negotiate,
)
from api.ingest.encode import (
    V1_HEADERS,
    V2_HEADERS,
    Series,
    compress,
    encode_v1,
    encode_v2,
    write_request_v1,
    write_request_v2,
)

T0 = 1_700_000_000_000  # ms
V1_TYPE = V1_HEADERS["Content-Type"]
V2_TYPE = V2_HEADERS["Content-Type"]


def v1(series: list[Series]) -> decode.DecodedWrite:
    return decode_request(write_request_v1(series), V1_TYPE, "snappy")


def v2(series: list[Series]) -> decode.DecodedWrite:
    return decode_request(write_request_v2(series), V2_TYPE, "snappy")


@pytest.fixture(autouse=True)
def _fresh_label_cache() -> None:
    decode._LABEL_SETS.clear()
    decode._VALUE_TEMPLATES.clear()
    decode._VALUE_AT.clear()


@pytest.mark.parametrize("decoder", [v1, v2])
def test_round_trip_builds_series_and_sample_arrays(decoder):
    out = decoder([
        Series({"__name__": "up", "job": "a", "manifest_tier": "mainnet"},
               [(T0, 1.0), (T0 + 1000, 0.5)]),
        Series({"__name__": "web_requests", "instance": "x"}, [(T0, 42.0)]),
    ])
    assert out.received == out.accepted == 3
    assert out.names == ["up", "up", "web_requests"]
    assert out.values == [1.0, 0.5, 42.0]
    assert out.times == [
        datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        datetime(2023, 11, 14, 22, 13, 21, tzinfo=UTC),
        datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
    ]
    assert [msgspec.json.decode(text) for text in out.labels] == [
        {"job": "a", "manifest_tier": "mainnet"},
        {"job": "a", "manifest_tier": "mainnet"},
        {"instance": "x"},
    ]
    assert out.labels[0] is out.labels[1]  # built once per series
    assert out.rejected == {}


@pytest.mark.parametrize("decoder", [v1, v2])
def test_big_number_labels_are_kept_digit_for_digit(decoder):
    supply = "123456789012345678901234567890.123456789012345678"
    out = decoder([Series({"__name__": "manifest_tokenomics_total_supply", "supply": supply,
                           "manifest_tier": "mainnet"}, [(T0, 1.0)])])
    assert out.amounts == [supply]  # the value, as text: no float on the way
    # ... and not part of the series: a new supply value is a new sample, not a new series
    assert msgspec.json.decode(out.labels[0]) == {"manifest_tier": "mainnet"}
    assert out.series_names == ["manifest_tokenomics_total_supply"]


@pytest.mark.parametrize("decoder", [v1, v2])
def test_series_are_listed_once_per_request_and_samples_point_at_them(decoder):
    out = decoder([
        Series({"__name__": "s", "supply": "1", "manifest_tier": "mainnet"}, [(T0, 1.0)]),
        Series({"__name__": "up", "job": "a"}, [(T0, 1.0)]),
        Series({"__name__": "s", "supply": "2", "manifest_tier": "mainnet"}, [(T0 + 1, 1.0)]),
        Series({"__name__": "s", "amount": "3", "manifest_tier": "mainnet"}, [(T0 + 2, 1.0)]),
    ])
    assert out.series_names == ["s", "up"]
    assert [msgspec.json.decode(text) for text in out.series_labels] == [
        {"manifest_tier": "mainnet"}, {"job": "a"}]
    assert out.series == [1, 2, 1, 1]
    assert out.amounts == ["1", None, "2", "3"]


def test_nul_characters_are_rejected_not_sent_to_the_database():
    out = v1([Series({"__name__": "m", "a": "x\x00y"}, [(T0, 1.0)]),
              Series({"__name__": "ok"}, [(T0, 2.0)])])
    assert out.rejected == {"label contains a NUL character": 1}
    assert out.values == [2.0]


@pytest.mark.parametrize("decoder", [v1, v2])
def test_stale_markers_and_non_finite_values_are_passed_on_bit_for_bit(decoder):
    other_nan = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000001))[0]
    sent = [STALE_NAN, math.nan, other_nan, math.inf, -math.inf, 7.0]
    out = decoder([Series({"__name__": "m"}, [(T0 + i, v) for i, v in enumerate(sent)])])
    assert [struct.pack("<d", v) for v in out.values] == [struct.pack("<d", v) for v in sent]
    assert out.rejected == {}
    assert out.received == 6
    only_stale = decoder([Series({"__name__": "gone"}, [(T0, STALE_NAN)])])
    assert only_stale.series_names == ["gone"]  # sent: the marker ends the series


def test_stale_marker_bits_survive_the_protobuf_runtime():
    raw = encode_v1([Series({"__name__": "m"}, [(T0, STALE_NAN)])])
    parsed = remote_pb2.WriteRequest.FromString(raw)
    bits = struct.unpack("<Q", struct.pack("<d", parsed.timeseries[0].samples[0].value))[0]
    assert bits == decode.STALE_NAN_BITS


@pytest.mark.parametrize("decoder", [v1, v2])
@pytest.mark.parametrize(
    ("labels", "reason"),
    [
        ({"job": "x"}, "no __name__ label"),
        ({"__name__": "m", "": "x"}, "empty label name"),
        ({"__name__": "m", "supply": "12abc"}, "label 'supply' is not a decimal number"),
        ({"__name__": "m", "amount": "NaN"}, "label 'amount' is not a decimal number"),
        ({"__name__": "m", "excluded_supply": "1e999999"},
         "label 'excluded_supply' is not a decimal number"),
    ],
)
def test_invalid_series_are_rejected_and_the_rest_kept(decoder, labels, reason):
    out = decoder([Series(labels, [(T0, 1.0), (T0 + 1, 2.0)]),
                   Series({"__name__": "ok"}, [(T0, 3.0)])])
    assert out.rejected == {reason: 2}
    assert out.values == [3.0]
    assert out.received == 3
    assert out.rejection_summary(1) == f"2 of 3 samples rejected, 1 written: 2: {reason}"


def test_repeated_label_names_are_rejected():
    request = remote_pb2.WriteRequest()
    series = request.timeseries.add()
    series.labels.add(name="__name__", value="m")
    series.labels.add(name="a", value="1")
    series.labels.add(name="a", value="2")
    series.samples.add(timestamp=T0, value=1.0)
    out = decode_request(compress(request.SerializeToString()), V1_TYPE, "snappy")
    assert out.rejected == {"repeated label name": 1}


def test_empty_label_values_mean_absent_labels():
    out = v1([Series({"__name__": "m", "a": "", "b": "x"}, [(T0, 1.0)])])
    assert msgspec.json.decode(out.labels[0]) == {"b": "x"}


@pytest.mark.parametrize("ms", [0, -1000, 253_402_300_800_000])
def test_timestamps_out_of_range_are_rejected(ms):
    out = v1([Series({"__name__": "m"}, [(ms, 1.0), (T0, 2.0)])])
    assert out.rejected == {"timestamp missing or out of range": 1}
    assert out.values == [2.0]


def test_native_histograms_are_counted_and_rejected():
    request = remote_pb2.WriteRequest()
    series = request.timeseries.add()
    series.labels.add(name="__name__", value="h")
    series.histograms.add(timestamp=T0, count_int=3, sum=1.5)
    plain = request.timeseries.add()
    plain.labels.add(name="__name__", value="m")
    plain.samples.add(timestamp=T0, value=1.0)
    plain.exemplars.add(value=1.0, timestamp=T0)
    out = decode_request(compress(request.SerializeToString()), V1_TYPE, "snappy")
    assert out.received == 2
    assert out.histograms_received == 1
    assert out.exemplars_received == 1
    assert out.rejected == {"native histograms are not supported": 1}
    assert out.values == [1.0]


@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize("version", ["1.0", "2.0"])
@pytest.mark.parametrize("extra", ["histogram", "exemplar", "empty exemplar", None])
def test_one_series_with_a_histogram_or_exemplar_among_many_plain_ones_is_seen(
        version, extra, large, monkeypatch):
    """The decoder skips looking for them per series when the request has none (found in
    one pass; a large body is looked through series by series)."""
    if large:
        monkeypatch.setattr(decode, "_EXTRAS_PASS_MAX_BYTES", 0)
    if version == "1.0":
        request: Any = remote_pb2.WriteRequest()
        add = request.timeseries.add
        content_type = V1_TYPE
    else:
        request = write_v2_pb2.Request(symbols=["", "__name__", "m"])
        add = request.timeseries.add
        content_type = V2_TYPE
    for i in range(50):
        series = add(labels_refs=[1, 2]) if version == "2.0" else add()
        if version == "1.0":
            series.labels.add(name="__name__", value="m")
        series.samples.add(timestamp=T0 + i, value=1.0)
        if i == 37 and extra == "histogram":
            series.histograms.add(timestamp=T0, count_int=3, sum=1.5)
        elif i == 37 and extra == "exemplar":
            series.exemplars.add(value=1.0, timestamp=T0)
        elif i == 37 and extra == "empty exemplar":  # no field set: zero bytes, still one
            series.exemplars.add()
    out = decode_request(compress(request.SerializeToString()), content_type, "snappy")
    assert out.histograms_received == (extra == "histogram")
    assert out.exemplars_received == (extra in ("exemplar", "empty exemplar"))
    assert out.received == 50 + (extra == "histogram")


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_a_field_the_version_does_not_read_changes_nothing(version):
    """Field 5 in 1.0, 1 in 2.0 (the other version's series), holding no valid message."""
    garbage = b"\xff\xff\xff"
    series = [Series({"__name__": "m"}, [(T0, 1.0)])]
    if version == "1.0":
        raw, content_type = encode_v1(series) + b"\x2a\x03" + garbage, V1_TYPE
    else:
        raw, content_type = b"\x0a\x03" + garbage + encode_v2(series), V2_TYPE
    out = decode_request(compress(raw), content_type, "snappy")
    assert (out.received, out.values, out.rejected) == (1, [1.0], {})


def test_v2_bad_symbol_references_are_rejected():
    request = write_v2_pb2.Request(symbols=["", "__name__", "m"])
    request.timeseries.add(labels_refs=[1, 2], samples=[write_v2_pb2.Sample(value=1, timestamp=T0)])
    request.timeseries.add(labels_refs=[1, 9], samples=[write_v2_pb2.Sample(value=2, timestamp=T0)])
    request.timeseries.add(labels_refs=[1], samples=[write_v2_pb2.Sample(value=3, timestamp=T0)])
    out = decode_request(compress(request.SerializeToString()), V2_TYPE, "snappy")
    assert out.values == [1.0]
    assert out.rejected == {"label reference outside the symbols table": 1,
                            "odd number of label references": 1}


def test_label_set_cache_does_not_change_results():
    series = [Series({"__name__": "m", "supply": "5"}, [(T0, 1.0)]),
              Series({"job": "no-name"}, [(T0, 1.0)])]
    first, second = v1(series), v1(series)
    assert (first.labels, first.rejected) == (second.labels, second.rejected)


# --- headers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "protocol"),
    [
        ("application/x-protobuf", Protocol.V1),
        ("application/x-protobuf;proto=prometheus.WriteRequest", Protocol.V1),
        ("Application/X-Protobuf; proto=io.prometheus.write.v2.Request", Protocol.V2),
        ('application/x-protobuf;proto="io.prometheus.write.v2.Request"', Protocol.V2),
    ],
)
def test_negotiate_picks_the_message(content_type, protocol):
    assert negotiate(content_type, "snappy") is protocol


@pytest.mark.parametrize(
    ("content_type", "encoding", "error", "words"),
    [
        ("application/x-protobuf", None, InvalidBody, "missing Content-Encoding"),
        ("application/x-protobuf", "", InvalidBody, "missing Content-Encoding"),
        (None, "snappy", InvalidBody, "missing Content-Type"),
        ("application/x-protobuf", "gzip", UnsupportedMediaType, "unsupported Content-Encoding"),
        ("application/json", "snappy", UnsupportedMediaType, "unsupported Content-Type"),
        ("application/x-protobuf;proto=foo.Bar", "snappy", UnsupportedMediaType, "foo.Bar"),
    ],
)
def test_negotiate_errors(content_type, encoding, error, words):
    with pytest.raises(error) as caught:
        negotiate(content_type, encoding)
    assert words in caught.value.message
    expected = (415, "MRPC415") if error is UnsupportedMediaType else (400, "PGRST102")
    assert (caught.value.status, caught.value.code) == expected


# --- bodies that cannot be read -------------------------------------------------------


def test_empty_body_is_malformed():
    with pytest.raises(InvalidBody, match="empty body"):
        decode_request(b"", V1_TYPE, "snappy")


def test_corrupt_snappy_is_malformed():
    with pytest.raises(InvalidBody, match="snappy"):
        decode_request(b"\x10garbage-not-snappy", V1_TYPE, "snappy")


def test_framed_snappy_is_refused():
    import cramjam

    framed = bytes(cramjam.snappy.compress(encode_v1([Series({"__name__": "m"}, [(T0, 1.0)])])))
    with pytest.raises(InvalidBody):
        decode_request(framed, V1_TYPE, "snappy")


def test_corrupt_protobuf_is_malformed():
    with pytest.raises(InvalidBody, match=r"invalid protobuf prometheus\.WriteRequest"):
        decode_request(compress(b"\x0a\xff\xff\xff\x0f"), V1_TYPE, "snappy")
    with pytest.raises(InvalidBody, match=r"invalid protobuf io\.prometheus\.write\.v2"):
        decode_request(compress(b"\x22\x05ab"), V2_TYPE, "snappy")


def test_invalid_utf8_label_is_malformed():
    label = b"\x0a\x08__name__\x12\x02\xff\xfe"
    sample = types_pb2.TimeSeries(samples=[{"value": 1.0, "timestamp": T0}]).SerializeToString()
    series = b"\x0a" + bytes([len(label)]) + label + sample
    request = b"\x0a" + bytes([len(series)]) + series
    with pytest.raises(InvalidBody, match=r"prometheus\.Label"):
        decode_request(compress(request), V1_TYPE, "snappy")


def test_decompressed_size_is_bounded_before_inflating():
    body = write_request_v1([Series({"__name__": "m" * 1000}, [(T0, 1.0)])])
    with pytest.raises(InvalidBody, match="exceeds the limit"):
        decode_request(body, V1_TYPE, "snappy", max_decompressed_bytes=100)


# --- label limits and version mismatch ----------------------------------------------------


@pytest.mark.parametrize(("limits", "labels", "reason"), [
    (decode.LabelLimits(max_labels=3), {"a": "1", "b": "2", "c": "3"}, "more than 3 labels"),
    (decode.LabelLimits(max_name_length=8), {"abcdefghi": "1"},  # __name__ is 8 long
     "label name longer than 8 characters"),
    (decode.LabelLimits(max_value_length=4), {"a": "12345"},
     "label value longer than 4 characters"),
    (decode.LabelLimits(max_value_length=4), {"a": "1234"}, None),
    (decode.LabelLimits(), {f"l{i}": "x" * 1000 for i in range(3)},
     "labels larger than 2048 bytes"),
])
def test_label_limits_reject_the_series(limits, labels, reason):
    body = write_request_v1([Series({"__name__": "m", **labels}, [(T0, 1.0), (T0 + 1, 2.0)]),
                             Series({"__name__": "ok"}, [(T0, 1.0)])])
    out = decode_request(body, V1_TYPE, "snappy", limits=limits)
    if reason is None:
        assert (out.accepted, out.rejected, out.label_limited) == (3, {}, 0)
    else:
        assert (out.accepted, out.rejected, out.label_limited) == (1, {reason: 2}, 2)


def test_label_limits_apply_per_call_despite_the_label_set_cache():
    body = write_request_v2([Series({"__name__": "m", "v": "12345"}, [(T0, 1.0)])])
    assert decode_request(body, V2_TYPE, "snappy").accepted == 1
    tight = decode.LabelLimits(max_value_length=5)
    assert decode_request(body, V2_TYPE, "snappy", limits=tight).accepted == 1
    tighter = decode.LabelLimits(max_value_length=4)
    assert decode_request(body, V2_TYPE, "snappy", limits=tighter).accepted == 0


@pytest.mark.parametrize(("body", "content_type", "found"), [
    (write_request_v1([Series({"__name__": "m"}, [(T0, 1.0)])]), V2_TYPE,
     "prometheus.WriteRequest"),
    (write_request_v2([Series({"__name__": "m"}, [(T0, 1.0)])]), V1_TYPE,
     "io.prometheus.write.v2.Request"),
])
def test_a_body_of_the_other_version_is_malformed(body, content_type, found):
    with pytest.raises(InvalidBody, match=f"the body is a {found} message"):
        decode_request(body, content_type, "snappy")


def test_an_empty_request_of_either_version_is_fine():
    assert decode_request(compress(b""), V1_TYPE, "snappy").received == 0
    assert decode_request(write_request_v2([]), V2_TYPE, "snappy").received == 0


# --- big-number label sets: a new label set per sample, read without a full parse ---------


@pytest.mark.parametrize("decoder", [v1, v2])
def test_value_label_sets_decode_as_the_full_parse_does(decoder):
    series = [Series({"__name__": "supply_m", "manifest_tier": "mainnet", "job": "t",
                      "supply": f"{10**20 + i}.5"}, [(T0 + i, 1.0)]) for i in range(5)]
    out = decoder(series)
    assert [(name, msgspec.json.decode(labels)) for name, labels in out.series_keys] == [
        ("supply_m", {"manifest_tier": "mainnet", "job": "t"})]
    assert out.series == [1] * 5
    assert out.amounts == [f"{10**20 + i}.5" for i in range(5)]


@pytest.mark.parametrize(("labels", "amount", "reason"), [
    ({"amount": "12", "supply": "34"}, "34", None),  # two: supply comes first
    ({"supply": " 12 "}, " 12 ", None),  # what metrics.label_number accepts
    ({"supply": "12x"}, None, "label 'supply' is not a decimal number"),
    ({"supply": ""}, None, None),  # empty means absent: the sample value counts
    ({"supply": "1" * 200}, "1" * 200, None),  # longer than one length byte
])
@pytest.mark.parametrize("decoder", [v1, v2])
def test_value_label_edge_cases_match_the_full_parse(decoder, labels, amount, reason):
    out = decoder([Series({"__name__": "edge", **labels}, [(T0, 1.0)])])
    if reason is None:
        assert out.amounts == [amount]
    else:
        assert out.rejected == {reason: 1}


def test_value_label_sets_of_one_name_with_the_value_label_elsewhere_decode_alike():
    """Label sets of one name whose big-number label sits at different places (and with
    values of other lengths) each get their own series and their own value."""
    series, expected = [], []
    for i in range(12):
        labels = {"__name__": "m", "supply": str(10**(5 + i % 3) + i)}
        if i % 2:
            labels["zone"] = "z"  # after supply: supply's place moves
        if i % 4 == 2:
            labels["a"] = "x"  # before supply
        series.append(Series(labels, [(T0 + i, 1.0)]))
        rest = {k: v for k, v in labels.items() if k not in ("__name__", "supply")}
        expected.append(("m", rest, labels["supply"]))
    for _ in range(2):  # the templates new, then known
        out = v1(series)
        keys = [out.series_keys[p - 1] for p in out.series]
        assert [(name, msgspec.json.decode(labels), amount)
                for (name, labels), amount in zip(keys, out.amounts, strict=True)] == expected


def test_label_limits_count_the_value_label_of_every_sample():
    """A template stands for one value length: a longer value is checked anew."""
    tight = decode.LabelLimits(max_value_length=6)
    body = write_request_v1([Series({"__name__": "m", "supply": supply}, [(T0, 1.0)])
                             for supply in ("123456", "1234567", "654321", "1.5e10")])
    out = decode_request(body, V1_TYPE, "snappy", limits=tight)
    assert out.amounts == ["123456", "654321", "1.5e10"]
    assert out.rejected == {"label value longer than 6 characters": 1}


def test_label_limits_count_the_value_label():
    body = write_request_v1([Series({"__name__": "m", "supply": "123456"}, [(T0, 1.0)])])
    tight = decode.LabelLimits(max_value_length=5)
    assert decode_request(body, V1_TYPE, "snappy", limits=tight).rejected == {
        "label value longer than 5 characters": 1}
    assert decode_request(body, V1_TYPE, "snappy", limits=decode.LabelLimits(max_labels=1)
                          ).rejected == {"more than 1 labels": 1}


# --- exemplars (docs/INGEST.md, "Exemplars") -------------------------------------------


@pytest.mark.parametrize("decoder", [v1, v2])
def test_exemplars_get_their_series_key_time_value_and_labels(decoder):
    out = decoder([Series({"__name__": "m", "job": "a", "supply": "5"}, [(T0, 1.0)],
                          [(T0, 2.5, {"trace_id": "abc", "span_id": ""})]),
                   Series({"__name__": "only_exemplars"}, [], [(T0 + 1, math.nan, {})])])
    assert out.exemplars_received == 2
    assert out.exemplar_keys == [("m", '{"job":"a"}'), ("only_exemplars", "{}")]
    assert out.exemplar_times == [datetime.fromtimestamp(T0 / 1000, UTC),
                                  datetime.fromtimestamp((T0 + 1) / 1000, UTC)]
    assert out.exemplar_values[0] == 2.5 and math.isnan(out.exemplar_values[1])
    assert out.exemplar_labels == ['{"trace_id":"abc"}', "{}"]  # an empty value: no label
    assert out.exemplars_rejected == {}
    assert out.received == 1  # exemplars are not samples


@pytest.mark.parametrize("decoder", [v1, v2])
@pytest.mark.parametrize(("series", "exemplar", "reason"), [
    ({"job": "x"}, (T0, 1.0, {}), "no __name__ label"),
    ({"__name__": "m"}, (T0, 1.0, {"": "v"}), "exemplar label with an empty name"),
    ({"__name__": "m"}, (T0, 1.0, {"a": "x\x00"}), "exemplar label contains a NUL character"),
    ({"__name__": "m"}, (T0, 1.0, {"trace_id": "x" * 121}),
     "exemplar labels longer than 128 characters"),
    ({"__name__": "m"}, (0, 1.0, {}), "exemplar timestamp missing or out of range"),
])
def test_invalid_exemplars_are_rejected(decoder, series, exemplar, reason):
    out = decoder([Series(series, [], [exemplar])])
    assert out.exemplar_keys == []
    assert out.exemplars_rejected == {reason: 1}


def test_exemplar_labels_of_exactly_128_characters_are_taken():
    out = v2([Series({"__name__": "m"}, [], [(T0, 1.0, {"trace_id": "x" * 120})])])
    assert out.exemplars_rejected == {}
    assert len(out.exemplar_labels) == 1


def test_exemplars_over_the_series_label_limits_are_rejected_with_it():
    limits = decode.LabelLimits(max_labels=1)
    body = write_request_v2([Series({"__name__": "m", "job": "a"}, [(T0, 1.0)],
                                    [(T0, 1.0, {})])])
    out = decode_request(body, V2_TYPE, "snappy", limits=limits)
    assert out.exemplars_rejected == {"more than 1 labels": 1}


def test_exemplar_repeated_names_and_bad_references_are_rejected():
    request = write_v2_pb2.Request(symbols=["", "__name__", "m", "trace_id", "t"])
    series = request.timeseries.add(labels_refs=[1, 2])
    series.exemplars.add(labels_refs=[3, 4, 3, 4], value=1, timestamp=T0)
    series.exemplars.add(labels_refs=[3, 9], value=1, timestamp=T0)
    series.exemplars.add(labels_refs=[3], value=1, timestamp=T0)
    series.exemplars.add(labels_refs=[3, 4], value=1, timestamp=T0)
    out = decode_request(compress(request.SerializeToString()), V2_TYPE, "snappy")
    assert out.exemplars_rejected == {
        "repeated exemplar label name": 1,
        "exemplar label reference outside the symbols table": 1,
        "odd number of exemplar label references": 1,
    }
    assert out.exemplar_labels == ['{"trace_id":"t"}']


def test_exemplars_of_native_histograms_are_rejected():
    request = write_v2_pb2.Request(symbols=["", "__name__", "h"])
    series = request.timeseries.add(labels_refs=[1, 2])
    series.histograms.add(timestamp=T0, count_int=1, sum=1.0)
    series.exemplars.add(value=1, timestamp=T0)
    out = decode_request(compress(request.SerializeToString()), V2_TYPE, "snappy")
    assert out.exemplars_rejected == {"exemplar of a native histogram (not supported)": 1}


def test_exemplar_rejection_summary_counts_and_words():
    out = v2([Series({"__name__": "m"}, [], [(T0, 1.0, {}), (0, 1.0, {}), (T0, 1.0, {"": "x"})])])
    assert out.exemplar_rejection_summary(1, {"conflict": 1}) == (
        "3 of 3 exemplars rejected, 1 written: 1: conflict; "
        "1: exemplar label with an empty name; 1: exemplar timestamp missing or out of range")
