"""The write's arguments as PostgreSQL reads them (api/ingest/remote_write.py).

Most arrays of ``WRITE_SQL`` are bound as one text each, an array literal the API builds
(``int_array``, ``text_array``, ``decimal_array``): PostgreSQL must read back exactly the
lists the decoder produced, whatever the texts hold. Checked against the test cluster's
own ``postgres`` database: only casts, no schema needed.
"""

from __future__ import annotations

import asyncio
import math
import struct
from typing import Any

import asyncpg
import pytest

from api.ingest import decode, remote_write
from api.ingest.encode import Series, encode_v1
from api.pgcluster import ThrowawayCluster

T0 = 1_700_000_000_000


def read_back(cluster: ThrowawayCluster, sql: str, *args: Any) -> Any:
    async def run() -> Any:
        conn = await asyncpg.connect(cluster.dsn())
        try:
            return await conn.fetchrow(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


@pytest.mark.parametrize("values", [
    [], [1], [1, 2, 3], [None], [5, None, 7, None], [-(2**63), 2**63 - 1, 0],
])
def test_int_arrays_read_back_as_the_list(pg_cluster: ThrowawayCluster,
                                          values: list[int | None]) -> None:
    row = read_back(pg_cluster, "select $1::text::int8[]", remote_write.int_array(values))
    assert row[0] == values


@pytest.mark.parametrize("texts", [
    [], ["up"], ["a", "b"], ['with "quotes"', "back\\slash", "\\", '"', "trailing\\"],
    ["{braces}", "a,b", " spaced ", "NULL", "null", "", "über_名前", "tab\there\nnewline"],
])
def test_text_arrays_read_back_as_the_list(pg_cluster: ThrowawayCluster,
                                           texts: list[str]) -> None:
    row = read_back(pg_cluster, "select $1::text::text[]", remote_write.text_array(texts))
    assert row[0] == texts


@pytest.mark.parametrize("texts", [
    [], [None], ["123456789012345678901"], ["1", None, "-2.5", "+.5e-3", "1E10"],
    [" 12 ", None, "\t12\n", "\x0b1\x0c", "\r7"],  # the whitespace the decoder takes
])
def test_decimal_arrays_read_back_as_the_list(pg_cluster: ThrowawayCluster,
                                              texts: list[str | None]) -> None:
    row = read_back(pg_cluster, "select $1::text::text[]", remote_write.decimal_array(texts))
    assert row[0] == texts


def test_every_argument_reads_back_as_the_decoded_request(pg_cluster: ThrowawayCluster) -> None:
    """WRITE_SQL's own parameter list and casts, bound to a statement that returns them."""
    stale = struct.pack("<Q", decode.STALE_NAN_BITS)
    decoded = decode.decode_v1(encode_v1([
        Series({"__name__": "up", "job": 'say "hi"\\'}, [(T0, 1.5), (T0 + 1, decode.STALE_NAN)]),
        Series({"__name__": "supply_m", "supply": "\t10\n"}, [(T0, 1.0)]),
        Series({"__name__": "supply_m", "supply": "123456789012345678901"}, [(T0 + 2, -math.inf)]),
    ]))
    series_ids = remote_write.SeriesIds()
    series_ids.remember("routes", decoded.series_keys[:1], [42])
    [(keys, args)] = remote_write.statements(decoded, series_ids)
    call = remote_write.WRITE_SQL.split("write_series_samples_ms(", 1)[1].rstrip()[:-1]
    row = read_back(pg_cluster, f"select {call}", *args, None, None, None)
    assert keys == decoded.series_keys
    assert row[0] == "routes"
    assert row[1] == [42, None]
    assert list(zip(row[2], row[3], strict=True)) == decoded.series_keys
    assert row[4] == decoded.series == [1, 1, 2, 2]
    assert row[5] == decoded.millis
    assert row[6][:1] == [1.5] and row[6][3] == -math.inf
    assert struct.pack("<d", row[6][1]) == stale  # the NaN payload kept: a float8[]
    assert row[7] == [None, None, "\t10\n", "123456789012345678901"]
