"""Ingest: samples per second end to end through ``POST /api/v1/write``.

    python -m bench.ingest                      # 300 requests of 2,000 samples, 4 senders
    python -m bench.ingest --requests 600 --concurrency 8 --server granian --rounds 1

What a Prometheus with a few thousand series sends: each request is one scrape of 2,000
series (one sample each, 15 s apart from the previous request; the dataset catalogue's
tokenomics series among them carry a new 21-digit ``supply``/``amount`` label every
time), snappy-compressed protobuf (remote write 1.0, encoded beforehand with
``api.ingest.encode``), sent by ``--concurrency`` senders at once with a writer JWT, into
a fresh database. Phases:

- new: every sample is new;
- half duplicates: every request repeats 1,000 samples already stored, 1,000 are new;
- replay: the "new" requests again, every sample a duplicate (what a sender's retry does);
- backfill, high churn: a year's history of the tokenomics exporters, as ``metrics-rpc
  backfill`` sends it: each request 300 consecutive minutes of one network's six names
  (1,800 samples), four of them with a fresh big-number label every minute, so almost
  every sample is a label set never seen before; the requests spread over eleven months
  (a partition per month to create).

The four phases run ``--rounds`` times (default 3), each round on its own times; each
phase's figure is its median round (every round's rate is printed and saved too), as the
other benchmarks take medians of rounds: one phase lasts only ~5 s, and a moment of load
from elsewhere on the shared machine moved a single round's rate by 20 %.

Each phase starts on a settled cluster (``harness.settle``: a checkpoint, and no
autovacuum worker running), as each benchmark of ``make bench`` does: a phase pays for
its own checkpoints and autovacuum, not for those of the phases before it (without it,
every phase slowed from round to round: new data 141k, 116k, 102k samples/s in one run,
as the earlier rounds' autovacuum and WAL-driven checkpoints fell into the later ones).

Reference in the same run: the same sample arrays passed straight to the SQL entry point
``ingest.write_samples`` over asyncpg (no HTTP, no protobuf, no JWT), same concurrency,
into the same database at other timestamps. The API itself calls
``ingest.write_series_samples`` with the series ids it remembers, so api/direct above 1
is that cache at work; below 1 would be HTTP, protobuf and auth costing more than it
saves. Printed: samples/s, request p50/p99 and api/direct.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from api.ingest.encode import V1_HEADERS, Series, write_request_v1
from bench import harness
from bench.dataset import catalogue

SCRAPE_EVERY = timedelta(seconds=15)
# name → its big-number label (None: a plain value)
BACKFILL_NAMES = (("manifest_tokenomics_total_supply", "supply"),
                  ("manifest_tokenomics_excluded_supply", "excluded_supply"),
                  ("locked_tokens", "amount"), ("locked_fees", "amount"),
                  ("total_mfx_burned", None), ("talib_mfx_power_conversion", None))
BACKFILL_MINUTES = 300  # per request
BACKFILL_SPAN = timedelta(days=330)
Labels = dict[str, str]
HOST_METRICS = ("node_cpu_seconds_total", "node_memory_active_bytes", "node_load1",
                "node_network_receive_bytes_total", "node_filesystem_avail_bytes")


def fleet(size: int) -> list[tuple[str, Labels]]:
    """``size`` series: the dataset catalogue (tokenomics included) padded with host gauges."""
    out = [(s.name, dict(s.labels)) for s in catalogue()]
    host = 0
    while len(out) < size:
        host += 1
        for name in HOST_METRICS:
            out.append((name, {"job": "node", "instance": f"node-{host:04d}:9100",
                               "manifest_tier": "mainnet" if host % 3 else "testnet"}))
    return out[:size]


Sample = tuple[int, str, Labels, float]  # (milliseconds since the epoch, name, labels, value)
BIG = ("supply", "excluded_supply", "amount")


def scrape(series: Sequence[tuple[str, Labels]], ms: int,
           rng: random.Random) -> list[Sample]:
    """One sample per series at ``ms``; big-number labels get a fresh amount."""
    out: list[Sample] = []
    for name, labels in series:
        key = next((k for k in BIG if k in labels), None)
        if key is not None:
            amount = str(10**20 + ms + rng.randrange(1000))
            out.append((ms, name, {**labels, key: amount}, 1.0))
        else:
            out.append((ms, name, labels, round(rng.random() * 1000, 3)))
    return out


def backfill(requests: int, end: datetime, rng: random.Random) -> list[list[Sample]]:
    """The high-churn backfill phase's requests (mainnet and testnet alternating), ending
    at ``end`` and spread over ``BACKFILL_SPAN``."""
    windows = (requests + 1) // 2
    minute = 60_000
    first = int((end - BACKFILL_SPAN).timestamp() * 1000) // minute * minute
    stride = int(BACKFILL_SPAN.total_seconds() * 1000) // windows // minute * minute
    out = []
    for i in range(requests):
        network = ("mainnet", "testnet")[i % 2]
        start = first + (i // 2) * stride
        samples: list[Sample] = []
        for m in range(BACKFILL_MINUTES):
            ms = start + m * minute
            for name, big in BACKFILL_NAMES:
                labels = {"job": "tokenomics", "instance": f"exporter-{network}"}
                if name != "talib_mfx_power_conversion":  # the price lives in common
                    labels["manifest_tier"] = network
                if big is None:
                    samples.append((ms, name, labels, round(rng.random() * 1000, 3)))
                else:
                    amount = str(10**20 + rng.randrange(10**18))
                    samples.append((ms, name, {**labels, big: amount}, 1.0))
        out.append(samples)
    return out


def body_of(samples: Sequence[Sample]) -> bytes:
    """The samples as one remote write 1.0 request body (snappy-compressed protobuf)."""
    return write_request_v1(Series({"__name__": name, **labels}, [(ms, value)])
                            for ms, name, labels, value in samples)


async def send_all(base: str, token: str, bodies: Sequence[bytes],
                   concurrency: int) -> tuple[float, list[float], int, int]:
    """POST every body with ``concurrency`` senders.

    Returns wall seconds, request latencies (ms), failures (any status but 204) and the
    samples the API reports as newly written (written minus duplicates).
    """
    headers = {**V1_HEADERS, "Authorization": f"Bearer {token}"}
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    failures = written = 0

    async def sender(client: httpx.AsyncClient) -> None:
        nonlocal failures, written
        while not queue.empty():
            body = queue.get_nowait()
            began = time.perf_counter()
            resp = await client.post(f"{base}/api/v1/write", content=body, headers=headers)
            latencies.append((time.perf_counter() - began) * 1000)
            if resp.status_code != 204:
                failures += 1
                if failures == 1:
                    print(f"  first failure: {resp.status_code} {resp.text[:300]}")
            else:
                # ours, or the 2.0 header of a checkout from before it (--baseline)
                stored = resp.headers.get("X-Metrics-Rpc-Samples-Written") or resp.headers[
                    "X-Prometheus-Remote-Write-Samples-Written"]
                written += int(stored) - int(resp.headers["X-Metrics-Rpc-Samples-Duplicate"])

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        began = time.perf_counter()
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))
        return time.perf_counter() - began, latencies, failures, written


async def direct_all(dsn: str, batches: Sequence[Sequence[Sample]],
                     concurrency: int) -> tuple[float, list[float]]:
    """The reference: ``ingest.write_samples`` over asyncpg, one transaction per batch."""
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    queue: asyncio.Queue[Sequence[Sample]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)
    latencies: list[float] = []
    sql = ("select * from ingest.write_samples($1::timestamptz[], $2::text[], $3::jsonb[], "
           "$4::float8[])")

    async def writer() -> None:
        while not queue.empty():
            batch = queue.get_nowait()
            began = time.perf_counter()
            async with pool.acquire() as conn:
                await conn.fetchrow(sql, [_when(s[0]) for s in batch], [s[1] for s in batch],
                                    [json.dumps(s[2]) for s in batch], [s[3] for s in batch])
            latencies.append((time.perf_counter() - began) * 1000)

    try:
        began = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(concurrency)))
        return time.perf_counter() - began, latencies
    finally:
        await pool.close()


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _line(label: str, samples: int, seconds: float, latencies: list[float],
          failures: int = 0) -> dict[str, Any]:
    p50, p99 = harness.percentiles(latencies, (50, 99))
    rate = samples / seconds
    fail = f"   FAILED {failures}" if failures else ""
    if failures:
        harness.problem(f"{label}: {failures} requests failed")
    print(f"{label:<30} {samples:>9,} samples {seconds:>7.2f} s {rate:>10,.0f} samples/s   "
          f"request p50 {p50:>7.1f} ms  p99 {p99:>7.1f} ms{fail}", flush=True)
    return {"samples": samples, "seconds": seconds, "samples_per_s": rate, "p50_ms": p50,
            "p99_ms": p99, "failures": failures}


# Every rollup row and latest state computed again from the raw samples (finite values;
# "last" is the greatest (time, series)), against what the ingest stored: rows that differ.
# Minutes from the samples, each tier above from the one below (sums add up, the last of
# the lasts is the last).
ROLLUP_MISMATCHES_SQL = """
WITH minute AS MATERIALIZED (
    SELECT sa.schema, se.name, date_bin('1 minute', sa.time, '2000-01-03 00:00+00') AS bucket,
           sum(sa.value) AS sum_value, count(*) AS n,
           (array_agg(sa.time ORDER BY sa.time DESC, sa.series_id DESC))[1] AS last_time,
           (array_agg(sa.series_id ORDER BY sa.time DESC, sa.series_id DESC))[1] AS last_series,
           (array_agg(sa.value ORDER BY sa.time DESC, sa.series_id DESC))[1] AS last_value
    FROM metrics.samples AS sa JOIN metrics.series AS se ON se.id = sa.series_id
    WHERE abs(sa.value) < 'Infinity'::numeric
    GROUP BY 1, 2, 3
), up AS (
    SELECT t.tier, m.schema, m.name, date_bin(t.step, m.bucket, '2000-01-03 00:00+00') AS bucket,
           sum(m.sum_value) AS sum_value, sum(m.n)::bigint AS n,
           (array_agg(m.last_time ORDER BY m.last_time DESC, m.last_series DESC))[1],
           (array_agg(m.last_series ORDER BY m.last_time DESC, m.last_series DESC))[1],
           (array_agg(m.last_value ORDER BY m.last_time DESC, m.last_series DESC))[1]
    FROM minute AS m,
         (VALUES ('rollup_1h', interval '1 hour'), ('rollup_1d', interval '1 day'),
                 ('latest', NULL)) AS t(tier, step)
    GROUP BY 1, 2, 3, 4
), expected AS (
    SELECT 'rollup_1m' AS tier, * FROM minute
    UNION ALL SELECT * FROM up
), stored AS (
    SELECT 'rollup_1m' AS tier, schema, name, bucket, sum_value, n, last_time, last_series,
           last_value FROM metrics.rollup_1m
    UNION ALL SELECT 'rollup_1h', schema, name, bucket, sum_value, n, last_time, last_series,
           last_value FROM metrics.rollup_1h
    UNION ALL SELECT 'rollup_1d', schema, name, bucket, sum_value, n, last_time, last_series,
           last_value FROM metrics.rollup_1d
    UNION ALL SELECT 'latest', schema, name, NULL, total_sum, n, last_time, last_series,
           last_value FROM metrics.latest_by_name
)
SELECT (SELECT count(*) FROM (SELECT * FROM expected EXCEPT SELECT * FROM stored) AS a)
     + (SELECT count(*) FROM (SELECT * FROM stored EXCEPT SELECT * FROM expected) AS b)
"""


async def rollup_mismatches(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("set work_mem = '256MB'")
        return int(await conn.fetchval(ROLLUP_MISMATCHES_SQL))
    finally:
        await conn.close()


PHASES = (("new", "api: new"), ("half_duplicates", "api: half duplicates"),
          ("replay", "api: replay (all duplicates)"),
          ("backfill_high_churn", "api: backfill, high churn"))


def _median_round(label: str, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median rate (its own latencies), with every round's rate."""
    middle = sorted(rounds, key=lambda r: r["samples_per_s"])[len(rounds) // 2]
    if len(rounds) > 1:
        print(f"{label:<30} median of {len(rounds)} rounds {middle['samples_per_s']:>10,.0f} "
              f"samples/s (rounds: "
              + " / ".join(f"{r['samples_per_s']:,.0f}" for r in rounds) + ")", flush=True)
    return {**middle, "rounds": [r["samples_per_s"] for r in rounds]}


def run(*, server: str, requests: int, batch: int, concurrency: int,
        rounds: int = 1) -> dict[str, Any]:
    cluster = harness.bench_cluster()
    db = "bench_ingest"
    dsn = harness.ensure_database(cluster, db, fresh=True)
    series = fleet(batch)
    rng = random.Random(7)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    every = int(SCRAPE_EVERY.total_seconds() * 1000)
    harness.heading(f"Ingest: {requests} requests x {batch} samples ({len(series)} series), "
                    f"{concurrency} senders, {server}, {rounds} round(s), fresh database {db}")
    print("encoding request bodies ...", flush=True)
    half = batch // 2
    # Each round's own times: its scrapes before the previous round's, its backfill windows
    # six hours before the previous round's (a window is five hours, windows are days
    # apart), so no round meets another's samples.
    span = every * (2 * requests + 10)
    bodies: list[dict[str, list[bytes]]] = []
    first_new: list[list[Sample]] = []
    history_total = 0
    for round_ in range(rounds):
        start = int(now.timestamp() * 1000) - span * (round_ + 1)
        new = [scrape(series, start + every * i, rng) for i in range(requests)]
        # half duplicates: the first half of series again at an already-written time, the
        # second half at a new time
        mixed = [[*new[i][:half], *scrape(series[half:], start + every * (requests + i), rng)]
                 for i in range(requests)]
        # a week before the rest, so it never meets their series' times
        history = backfill(requests, now - timedelta(days=7, hours=6 * round_), rng)
        history_total = sum(map(len, history))
        new_bodies = [body_of(s) for s in new]
        bodies.append({"new": new_bodies, "half_duplicates": [body_of(s) for s in mixed],
                       "replay": new_bodies,
                       "backfill_high_churn": [body_of(s) for s in history]})
        if round_ == 0:
            first_new = new
    # the reference writes the first round's shapes a day earlier (new data for it too)
    shift = 86_400_000  # one day
    direct = [[(ms - shift, n, lab, v) for ms, n, lab, v in s] for s in first_new]
    mb = sum(len(b) for b in bodies[0]["new"]) / requests / 1024
    print(f"  {mb:.0f} KiB per request body (snappy)", flush=True)

    token = harness.writer_token("bench-ingest")
    env = harness.api_env(cluster, db, pool=max(10, concurrency))
    out: dict[str, Any] = {"server": server, "requests": requests, "batch": batch,
                           "concurrency": concurrency, "rounds": rounds}
    total = requests * batch
    measured: dict[str, list[dict[str, Any]]] = {phase: [] for phase, _ in PHASES}
    with harness.running("api", server, env, ready_path="/ready") as (_proc, base):
        # one warm-up request (creates the month's partitions, warms the pool)
        warm = body_of(scrape(series, int(now.timestamp() * 1000) - 2 * shift, rng))
        asyncio.run(send_all(base, token, [warm], 1))
        for round_ in range(rounds):
            if rounds > 1:
                print(f"-- round {round_ + 1}/{rounds}", flush=True)
            for phase, label in PHASES:
                harness.settle(cluster)
                samples = history_total if phase == "backfill_high_churn" else total
                seconds, lat, failed, _ = asyncio.run(send_all(base, token,
                                                               bodies[round_][phase],
                                                               concurrency))
                measured[phase].append(_line(label, samples, seconds, lat, failed))
    for phase, label in PHASES:
        out[phase] = _median_round(label, measured[phase])
    seconds, lat = asyncio.run(direct_all(dsn, direct, concurrency))
    out["direct_new"] = _line("direct write_samples: new", total, seconds, lat)
    seconds, lat = asyncio.run(direct_all(dsn, direct, concurrency))
    out["direct_replay"] = _line("direct write_samples: replay", total, seconds, lat)
    counted = asyncio.run(harness.fetchval(dsn, "select count(*) from metrics.samples"))
    expected = rounds * (total + (batch - half) * requests + history_total) + total + batch
    print(f"\nstored samples: {counted:,} (expected {expected:,}: new + half-new + backfill "
          f"per round, direct, warm-up)")
    for phase in ("new", "replay"):
        api_rate = out[phase]["samples_per_s"]
        direct_rate = out[f"direct_{phase}"]["samples_per_s"]
        print(f"api/direct {phase + ':':<8} {harness.ratio(api_rate, direct_rate)}")
    out["stored"] = counted
    out["expected"] = expected
    if counted != expected:
        harness.problem(f"ingest: {counted:,} samples stored, {expected:,} expected")
    began = time.perf_counter()
    out["rollup_mismatches"] = asyncio.run(rollup_mismatches(dsn))
    print(f"rollups (1m, 1h, 1d) and latest state against the raw samples: "
          f"{out['rollup_mismatches']:,} differences (a wrong row counts twice: as expected "
          f"and as stored), {time.perf_counter() - began:.0f} s")
    if out["rollup_mismatches"]:
        harness.problem(f"ingest: {out['rollup_mismatches']:,} rollup differences from the "
                        "raw samples")
    path = harness.save_result("ingest", out)
    print(f"saved to {path.relative_to(harness.REPO)}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ingest through /api/v1/write")
    parser.add_argument("--server", choices=harness.SERVERS, default="uvicorn")
    parser.add_argument("--requests", type=int, default=300, help="requests per phase")
    parser.add_argument("--batch", type=int, default=2000, help="samples per request")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent senders")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the four phases; the median round of each is kept")
    args = parser.parse_args(argv)
    run(server=args.server, requests=args.requests, batch=args.batch,
        concurrency=args.concurrency, rounds=args.rounds)
    return harness.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
