"""Concurrent backfill batches over the same minutes (docs/INGEST.md, "How a batch is
written"): the minute rollups of a batch go in with a plain INSERT when a probe finds none
stored, and fall back to the upsert when a concurrent batch wrote the same minutes first;
the data versions are bumped last. Two real transactions on a real PostgreSQL, the second
one held behind the first's uncommitted rows (observed in pg_locks, not slept on): both
land whole, no deadlock, and every rollup tier and the latest state equal the raw samples.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from api.ingest import decode, remote_write
from api.ingest.encode import Series, encode_v1
from bench.ingest import ROLLUP_MISMATCHES_SQL
from tests.pgfixtures import DbInfo

MINUTE_MS = 60_000
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
# two days back: inside the ingest window, in this month's or last month's partitions
START_MS = int((NOW - timedelta(days=2)).replace(hour=0, minute=0).timestamp() * 1000)


@pytest.fixture(scope="module")
def database(make_db: Any) -> Iterator[DbInfo]:
    info = make_db("backfill_races")
    yield info
    info.drop()


def batch(first_minute: int, minutes: int, exporter: str,
          network: str = "mainnet") -> decode.DecodedWrite:
    """A backfill request: per minute a price sample (the common schema: both exporters'
    series share its rollup rows) and a supply with a fresh big-number label (the
    ``network`` schema)."""
    series = []
    for m in range(first_minute, first_minute + minutes):
        ms = START_MS + m * MINUTE_MS
        series.append(Series({"__name__": "race_price", "instance": exporter},
                             [(ms, float(m) + 0.5)]))
        series.append(Series({"__name__": "race_supply", "manifest_tier": network,
                              "instance": exporter, "supply": str(10**20 + m)}, [(ms, 1.0)]))
    return decode.decode_v1(encode_v1(series))


async def write(conn: asyncpg.Connection, decoded: decode.DecodedWrite) -> int:
    written = 0
    for _keys, args in remote_write.statements(decoded, remote_write.SeriesIds()):
        row = await conn.fetchrow(remote_write.WRITE_SQL, *args, None, None, None)
        written += row["written"]
    return written


async def waits_for_lock(observer: asyncpg.Connection, pid: int) -> None:
    """Until ``pid`` waits for a lock (the other transaction's rows)."""
    query = "select exists (select from pg_locks where pid = $1 and not granted)"
    while True:  # polls an observable state; no time assumed
        if await observer.fetchval(query, pid):
            return


async def race(dsn: str, first: decode.DecodedWrite, second: decode.DecodedWrite) -> list[int]:
    """``first`` holds its transaction open until ``second`` waits for its rows, then
    commits; returns the samples each wrote."""
    a, b, observer = [await asyncpg.connect(dsn) for _ in range(3)]
    try:
        tx = a.transaction()
        await tx.start()
        written_a = await write(a, first)

        async def second_write() -> int:
            async with b.transaction():
                return await write(b, second)

        pending = asyncio.ensure_future(second_write())
        await asyncio.wait_for(waits_for_lock(observer, b.get_server_pid()), timeout=60)
        await tx.commit()
        written_b = await asyncio.wait_for(pending, timeout=60)
        return [written_a, written_b]
    finally:
        for conn in (a, b, observer):
            await conn.close()


def mismatches(dsn: str) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            return int(await conn.fetchval(ROLLUP_MISMATCHES_SQL))
        finally:
            await conn.close()
    return asyncio.run(count())


def test_a_batch_behind_another_on_the_same_minutes_lands_whole(database):
    # the second batch overlaps the first's last 100 minutes (its probes of the first,
    # middle and last minute find nothing committed yet, so it tries the plain INSERT)
    first, second = batch(0, 300, "exporter-a"), batch(200, 300, "exporter-b")
    written = asyncio.run(race(database.dsn, first, second))
    assert written == [600, 600]
    assert mismatches(database.dsn) == 0
    below = (START_MS + 500 * MINUTE_MS) // 1000  # the other tests write later minutes
    assert database.psql("select count(*) from metrics.rollup_1m where name = 'race_price'"
                         f" and n = 2 and bucket < to_timestamp({below})") == "100"


async def all_at_once(dsn: str, batches: list[decode.DecodedWrite]) -> list[int]:
    conns = [await asyncpg.connect(dsn) for _ in batches]

    async def one(conn: asyncpg.Connection, decoded: decode.DecodedWrite) -> int:
        async with conn.transaction():
            return await write(conn, decoded)

    try:
        return list(await asyncio.gather(*(one(c, d) for c, d in zip(conns, batches,
                                                                        strict=True))))
    finally:
        for conn in conns:
            await conn.close()


def test_overlapping_batches_at_once_neither_deadlock_nor_lose_a_batch(database):
    # four senders, each batch overlapping two others by half (any deadlock would raise)
    batches = [batch(1000 + k * 150, 300, f"exporter-{k}") for k in range(4)]
    written = [asyncio.run(all_at_once(database.dsn, batches)) for _ in range(3)]
    assert written == [[600] * 4, [0] * 4, [0] * 4]  # then replays, which write nothing
    assert mismatches(database.dsn) == 0
    assert database.psql("select count(*) from metrics.samples s join metrics.series r"
                         " on r.id = s.series_id where r.name like 'race_%'"
                         " and s.time >= to_timestamp("
                         f"{(START_MS + 1000 * MINUTE_MS) // 1000})"
                         f" and s.time < to_timestamp({(START_MS + 2000 * MINUTE_MS) // 1000})"
                         ) == "2400"


def test_a_batch_sharing_only_the_common_minutes_lands_whole(database):
    # mainnet's then testnet's exporter over the same minutes: the second batch's price
    # minutes are stored (the upsert adds to them), its testnet minutes are new (the
    # plain INSERT): each schema's minute rows take their own path
    first = batch(5000, 300, "exporter-m", "mainnet")
    second = batch(5000, 300, "exporter-t", "testnet")
    written = [asyncio.run(all_at_once(database.dsn, [b]))[0] for b in (first, second)]
    assert written == [600, 600]
    assert mismatches(database.dsn) == 0
    since, until = ((START_MS + m * MINUTE_MS) // 1000 for m in (5000, 5300))
    counts = database.psql(
        "select string_agg(schema || ':' || n || ':' || rows, ',' order by schema) from"
        " (select schema, n, count(*) as rows from metrics.rollup_1m"
        f" where name like 'race_%' and bucket >= to_timestamp({since})"
        f" and bucket < to_timestamp({until}) group by schema, n) as r")
    assert counts == "common:2:300,mainnet:1:300,testnet:1:300"


def test_both_schemas_data_versions_are_bumped(database):
    before = database.psql("select coalesce(max(version), 0) from metrics_rpc.data_versions")
    asyncio.run(race(database.dsn, batch(2000, 50, "exporter-e"), batch(2000, 50, "exporter-f")))
    bumped = database.psql(
        "select string_agg(domain, ',' order by domain) from metrics_rpc.data_versions"
        f" where version > {before}")
    assert bumped == "common,mainnet"


def test_the_rollup_check_sees_a_wrong_row(database):
    asyncio.run(all_at_once(database.dsn, [batch(3000, 10, "exporter-g")]))
    assert mismatches(database.dsn) == 0
    when = f"to_timestamp({(START_MS + 3000 * MINUTE_MS) // 1000})"
    for table, step in (("rollup_1m", "minute"), ("rollup_1h", "hour"), ("rollup_1d", "day")):
        row = (f"name = 'race_price' and bucket = date_bin(interval '1 {step}', {when},"
               " '2000-01-03 00:00+00')")
        database.psql(f"update metrics.{table} set n = n + 1 where {row}")
        try:
            assert mismatches(database.dsn) == 2  # the row as expected, and as stored
        finally:
            database.psql(f"update metrics.{table} set n = n - 1 where {row}")
    assert mismatches(database.dsn) == 0
