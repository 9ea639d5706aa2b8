"""Where ingest time goes: ``ingest.write_samples`` alone vs ``POST /api/v1/write``.

    python -m bench.ingest_profile                       # 6,000 series, 3 senders
    python -m bench.ingest_profile --rounds 20 --series 6000 --concurrency 3
    python -m bench.ingest_profile --baseline /tmp/orig  # also a checkout from before a change

A fleet of ``--series`` series (5-10 labels each, ~5% tokenomics series with a 21-digit
``supply``/``excluded_supply``/``amount`` label that changes every scrape, a few geo and
cumulative names), scraped every 15 s. Each scrape round is sent as requests of
``--batch`` samples (one sample per series, as Prometheus shards do), pre-encoded as
remote write 1.0. Phases, each into a fresh database of the cluster in ``.data/ingest-perf``
(with ``--baseline``, one database and one app per checkout, phases alternating):

- direct: the sample arrays straight to the SQL write path over asyncpg (no HTTP, no
  protobuf, no JWT), one transaction per request-sized batch, ``--concurrency`` at once;
  the legacy four-array ``ingest.write_samples`` and, when present, the series-level
  ``ingest.write_series_samples`` (what the HTTP path calls);
- http new / http half duplicates / http replay: the encoded requests through uvicorn;
- backfill (direct and http): ``bench.ingest``'s high-churn backfill, eleven months of the
  tokenomics exporters' history, 1,800 samples of 300 minutes per request, a new
  big-number label set per sample (``--backfill`` requests; the direct phase creates the
  eleven months' partitions, the HTTP one writes a day later into the same months).

Printed: samples/s per phase, for the HTTP phases also the API process's CPU time per
request (its share of the machine, steadier than throughput on a shared one), after/before
ratios and HTTP/direct measured in the same run
(the machine is shared: compare ratios, not absolute figures between runs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from api.ingest import decode, remote_write
from api.ingest.encode import V1_HEADERS, Series, encode_v1
from api.migrate import migrate
from bench import harness
from bench.ingest import BIG, Labels, Sample, backfill, body_of, scrape, send_all

TOKENOMICS = ("manifest_tokenomics_total_supply", "manifest_tokenomics_excluded_supply",
              "locked_tokens", "locked_fees", "total_mfx_burned")
HOST = ("node_cpu_seconds_total", "node_memory_active_bytes", "node_load1",
        "node_network_receive_bytes_total", "node_filesystem_avail_bytes",
        "go_goroutines", "process_resident_memory_bytes", "http_requests_in_flight")
CUMSUM = ("web_requests", "system_tcp_sent", "system_network_received")
FOLDER = harness.REPO / ".data" / "ingest-perf"


def fleet(size: int, rng: random.Random) -> list[tuple[str, Labels]]:
    """``size`` (name, labels without __name__) with 5-10 labels each."""
    out: list[tuple[str, Labels]] = []
    i = 0
    while len(out) < size:
        i += 1
        tier = ("mainnet", "testnet", "devnet")[i % 3]
        base = {"job": "node", "instance": f"node-{i:05d}.example.org:9100",
                "manifest_tier": tier, "region": f"eu-{i % 7}", "env": "prod"}
        kind = i % 20
        if kind == 0:  # tokenomics: a big-number label, new every scrape
            name = TOKENOMICS[i % len(TOKENOMICS)]
            out.append((name, {**base, "job": "tokenomics", BIG[i % 3]: "0"}))
        elif kind == 1:
            out.append((CUMSUM[i % len(CUMSUM)], {**base, "job": "web"}))
        elif kind == 2 and i % 40 == 2:
            out.append(("manifest_geo_latitude", {**base, "job": "geo"}))
        else:
            for n, name in enumerate(HOST):
                extra = {f"l{k}": f"v{(i + k) % 11}" for k in range(rng.randrange(0, 5))}
                if name == "node_cpu_seconds_total":
                    extra["cpu"], extra["mode"] = str(n % 4), "user"
                out.append((name, {**base, **extra}))
    return out[:size]


def requests_for(series: Sequence[tuple[str, Labels]], rounds: int, batch: int, start_ms: int,
                 rng: random.Random) -> list[list[Sample]]:
    out = []
    for r in range(rounds):
        samples = scrape(series, start_ms + r * 15_000, rng)
        out.extend(samples[i:i + batch] for i in range(0, len(samples), batch))
    return out


# --- direct --------------------------------------------------------------------------------

SERIES_IDS = remote_write.SeriesIds()
LEGACY_SQL = ("select * from ingest.write_samples($1::timestamptz[], $2::text[], $3::jsonb[], "
              "$4::float8[])")


async def run_direct(dsn: str, batches: Sequence[list[Sample]], concurrency: int,
                     mode: str) -> tuple[float, int]:
    """``mode``: "legacy" (four per-sample arrays) or "series" (the decoder's output shape)."""
    series_ids = SERIES_IDS  # as the app keeps them between requests
    prepared: list[Any] = []
    for batch in batches:
        if mode == "legacy":
            prepared.append((
                [datetime.fromtimestamp(ms / 1000, UTC) for ms, *_ in batch],
                [n for _, n, _, _ in batch], [json.dumps(lab) for _, _, lab, _ in batch],
                [v for *_, v in batch]))
        else:
            raw = encode_v1(Series({"__name__": n, **lab}, [(ms, v)]) for ms, n, lab, v in batch)
            prepared.append(decode.decode_v1(raw))
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in prepared:
        queue.put_nowait(item)
    written = 0

    async def worker() -> None:
        nonlocal written
        while not queue.empty():
            item = queue.get_nowait()
            async with pool.acquire() as conn, conn.transaction():
                if mode == "legacy":
                    row = await conn.fetchrow(LEGACY_SQL, *item)
                    written += row[1]
                else:
                    for keys, args in remote_write.statements(item, series_ids):
                        # the HTTP path's window (10 minutes ahead) and no new-series cap
                        row = await conn.fetchrow(remote_write.WRITE_SQL, *args,
                                                  datetime.now(UTC), timedelta(minutes=10), None)
                        written += row[1]
                        series_ids.remember(row[3], keys, row[4])

    try:
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - began, written
    finally:
        await pool.close()


# --- http --------------------------------------------------------------------------------------


def line(label: str, samples: int, seconds: float, written: int,
         latencies: Sequence[float] = (), failures: int = 0, cpu_ms: float = 0.0) -> float:
    rate = samples / seconds
    lat = ""
    if latencies:
        p50, p99 = harness.percentiles(latencies, (50, 99))
        lat = f"  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms"
    fail = f"  FAILED {failures}" if failures else ""
    if cpu_ms:
        lat += f"  API CPU {cpu_ms:5.2f} ms/request"
    if failures:
        harness.problem(f"{label}: {failures} requests failed")
    print(f"{label:<34} {samples:>8,} samples {seconds:7.2f} s {rate:>9,.0f}/s  "
          f"new {written:>8,}{lat}{fail}", flush=True)
    return rate


def decode_cost(bodies: Sequence[bytes], repeat: int = 3) -> float:
    """Seconds per request to decode (snappy + protobuf + label sets), warm cache."""
    for body in bodies[:3]:
        decode.decode_request(body, V1_HEADERS["Content-Type"], "snappy")
    began = time.perf_counter()
    for _ in range(repeat):
        for body in bodies:
            decode.decode_request(body, V1_HEADERS["Content-Type"], "snappy")
    return (time.perf_counter() - began) / (repeat * len(bodies))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=20, help="scrape rounds per phase")
    parser.add_argument("--concurrency", type=int, default=3)
    parser.add_argument("--backfill", type=int, default=80,
                        help="requests of the high-churn backfill phases")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--baseline", type=Path,
                        help="another checkout (e.g. before a change): its SQL and app are "
                             "measured too, phase by phase alternating with this one")
    args = parser.parse_args(argv)

    # stopped again when this process exits, unless it was already running
    cluster = harness.bench_cluster(FOLDER)
    trees = {"after": harness.REPO}
    if args.baseline:
        trees = {"before": args.baseline.resolve(), "after": harness.REPO}
    dsns: dict[str, str] = {}
    for label, tree in trees.items():
        db = f"ingest_perf_{label}"
        harness.drop_database(cluster, db)
        cluster.createdb(db)
        dsns[label] = cluster.dsn(db)
        if tree == harness.REPO:
            asyncio.run(migrate(dsns[label], echo=lambda _line: None))
        else:
            harness.migrate_with(tree, dsns[label])

    rng = random.Random(7)
    series = fleet(args.series, rng)
    now_ms = int(datetime.now(UTC).replace(second=0, microsecond=0).timestamp() * 1000)
    day = 86_400_000
    n_labels = [len(lab) for _, lab in series]
    print(f"{len(series):,} series ({min(n_labels)}-{max(n_labels)} labels, "
          f"{sum(any(k in lab for k in BIG) for _, lab in series)} with a big-number label), "
          f"{args.rounds} rounds, requests of {args.batch}, {args.concurrency} at once; "
          f"load average {os.getloadavg()[0]:.1f}")

    # direct (no HTTP): the legacy four-array function in every database, the series one
    # where it exists. Each first registers its series with an untimed round.
    results: dict[str, float] = {}
    cpu: dict[str, float] = {}  # phase → the API's CPU ms per request
    warm = requests_for(series, 1, args.batch, now_ms - 6 * day, rng)
    reqs = requests_for(series, args.rounds, args.batch, now_ms - 3 * day, rng)
    total = sum(map(len, reqs))
    for dsn in dsns.values():
        asyncio.run(run_direct(dsn, warm, 1, "legacy"))
    for phase in ("new", "replay"):
        for label, dsn in dsns.items():
            secs, written = asyncio.run(run_direct(dsn, reqs, args.concurrency, "legacy"))
            results[f"{label} legacy {phase}"] = line(
                f"{label}: direct write_samples {phase}", total, secs, written)
    # the backfill: the legacy function in every database (another 11 months each time)
    now = datetime.fromtimestamp(now_ms / 1000, UTC)
    history = backfill(args.backfill, now - timedelta(days=8), rng)
    history_total = sum(map(len, history))
    for label, dsn in dsns.items():
        secs, written = asyncio.run(run_direct(dsn, history, args.concurrency, "legacy"))
        results[f"{label} legacy backfill"] = line(
            f"{label}: direct write_samples backfill", history_total, secs, written)
    if "after" in dsns:
        reqs = requests_for(series, args.rounds, args.batch, now_ms - 2 * day, rng)
        for phase in ("new", "replay"):
            secs, written = asyncio.run(run_direct(dsns["after"], reqs, args.concurrency,
                                                   "series"))
            results[f"after series {phase}"] = line(
                f"after: direct write_series_samples {phase}", total, secs, written)
    if args.skip_http:
        return _save(args, trees, results)

    new = requests_for(series, args.rounds, args.batch, now_ms - day, rng)
    total = sum(map(len, new))
    bodies = {"new": [body_of(r) for r in new]}
    bodies["half duplicates"] = []
    for req in new:  # half of each request again, half at a later time
        half = len(req) // 2
        later = [(ms + day // 2, n, lab, v) for ms, n, lab, v in req[half:]]
        bodies["half duplicates"].append(body_of([*req[:half], *later]))
    bodies["replay"] = bodies["new"]
    # the HTTP backfill: the same shape a day later (other minutes, the same months)
    http_history = backfill(args.backfill, now - timedelta(days=7), rng)
    per_request = decode_cost(bodies["new"][:30])
    print(f"decode (snappy+protobuf+labels, warm cache): {per_request * 1000:.2f} ms per "
          f"request = {args.batch / per_request:,.0f} samples/s on one core")

    token = harness.writer_token("ingest-profile")
    warm_bodies = [body_of(r) for r in requests_for(series, 1, args.batch, now_ms - 5 * day,
                                                     rng)]
    with contextlib.ExitStack() as stack:
        bases, procs = {}, {}
        for label, tree in trees.items():
            env = harness.api_env(cluster, f"ingest_perf_{label}", pool=max(10, args.concurrency))
            # this checkout's or the baseline's app (its own bench.serve and api)
            procs[label], bases[label] = stack.enter_context(harness.running(
                "api", "uvicorn", env, "/ready", cwd=tree, pythonpath=tree))
            asyncio.run(send_all(bases[label], token, warm_bodies, 1))  # series, caches
        bodies["backfill"] = [body_of(r) for r in http_history]
        for phase, phase_bodies in bodies.items():
            samples = history_total if phase == "backfill" else total
            for label, base in bases.items():
                used = procs[label].cpu_seconds()
                secs, lat, failed, written = asyncio.run(send_all(base, token, phase_bodies,
                                                                  args.concurrency))
                cpu[f"{label} http {phase}"] = cpu_ms = (
                    (procs[label].cpu_seconds() - used) * 1000 / len(phase_bodies))
                results[f"{label} http {phase}"] = line(f"{label}: http {phase}", samples,
                                                        secs, written, lat, failed, cpu_ms)
    if "before" in trees:
        print()
        for key in ("legacy new", "legacy replay", "legacy backfill", "http new",
                    "http half duplicates", "http replay", "http backfill"):
            print(f"after/before {key + ':':<22} "
                  f"{results[f'after {key}'] / results[f'before {key}']:.2f}x")
        for key in ("http new", "http half duplicates", "http replay", "http backfill"):
            print(f"API CPU per request after/before {key + ':':<22} "
                  f"{cpu[f'after {key}'] / cpu[f'before {key}']:.2f}x")
        print(f"after http new / before direct legacy new: "
              f"{results['after http new'] / results['before legacy new']:.2f}x")
    print(f"after: http new / direct write_series_samples new: "
          f"{results['after http new'] / results['after series new']:.2f}")
    return _save(args, trees, results, cpu)


def _save(args: argparse.Namespace, trees: dict[str, Path],
          results: dict[str, float], cpu: dict[str, float] | None = None) -> int:
    path = harness.save_result("ingest_profile", {
        "series": args.series, "batch": args.batch, "rounds": args.rounds,
        "concurrency": args.concurrency, "trees": {k: str(v) for k, v in trees.items()},
        "samples_per_s": results, "api_cpu_ms_per_request": cpu or {}})
    print(f"saved to {path.relative_to(harness.REPO)}")
    return harness.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
