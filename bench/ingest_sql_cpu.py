"""PostgreSQL's CPU per remote-write batch: what ``ingest.write_series_samples_ms`` costs the
server, read from the backend's own run time (``/proc/<pid>/schedstat``), not from a clock.

    python -m bench.ingest_sql_cpu                        # 200 requests per shape
    python -m bench.ingest_sql_cpu --baseline DIR --rounds 3   # also a checkout from before

The benchmark machine is shared, so wall-clock times of one connection swing with the load;
the CPU a backend spends on a call moves much less. Each shape's requests are decoded and
sent the way the API sends them (``api.ingest.remote_write.statements``, with the series-id
cache), one at a time on one connection, into a fresh database of the benchmark cluster:

- backfill: ``bench.ingest``'s high-churn backfill (1,800 samples of 300 minutes, the two
  networks' exporters over the same minutes one after the other, so every second request
  shares the price minutes of ``common`` with the one before);
- scrape: ``bench.ingest``'s scrape of 2,000 series, one sample each, 15 s apart.

With ``--baseline``, the other checkout's SQL (migrated by its own migrator) is measured in
another database, rounds alternating. Printed: mean backend CPU per request, and
after/before.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from api.ingest import decode, remote_write
from bench import harness
from bench.ingest import Sample, backfill, body_of, fleet, scrape

SHAPES = ("backfill", "scrape")


def requests_of(shape: str, count: int, seed: int) -> list[list[Sample]]:
    rng = random.Random(seed)
    if shape == "backfill":
        return backfill(count, datetime.now(UTC) - timedelta(days=7, hours=seed), rng)
    series = fleet(2000)
    start = int((datetime.now(UTC) - timedelta(days=1, hours=seed)).timestamp() * 1000)
    return [scrape(series, start + 15_000 * i, rng) for i in range(count)]


async def cpu_per_request(dsn: str, requests: list[list[Sample]], warm: int) -> float:
    """Mean backend CPU (ms) per request, the first ``warm`` requests untimed."""
    decoded = [decode.decode_v1(decode.decompress(body_of(r), 1 << 26)) for r in requests]
    conn = await asyncpg.connect(dsn)
    try:
        pid = await conn.fetchval("select pg_backend_pid()")

        def cpu_ms() -> float:
            with open(f"/proc/{pid}/schedstat") as f:
                return int(f.read().split()[0]) / 1e6

        ids = remote_write.SeriesIds()
        spent: list[float] = []
        for request in decoded:
            began = cpu_ms()
            for keys, args in remote_write.statements(request, ids):
                row = await conn.fetchrow(remote_write.WRITE_SQL, *args, None, None, None)
                ids.remember(row[3], keys, row[4])
            spent.append(cpu_ms() - began)
        return statistics.fmean(spent[warm:])
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per shape")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", type=Path,
                        help="another checkout (e.g. before a change), measured alternating")
    args = parser.parse_args(argv)
    cluster = harness.bench_cluster()
    trees = {"after": harness.REPO}
    if args.baseline:
        trees = {"before": args.baseline.resolve(), "after": harness.REPO}
    harness.heading(f"PostgreSQL CPU per remote-write request ({args.requests} per shape, "
                    f"{args.rounds} rounds; load average {os.getloadavg()[0]:.1f})")
    results: dict[str, list[float]] = {}
    for round_ in range(args.rounds):
        for shape in SHAPES:
            requests = requests_of(shape, args.requests, round_)
            for label, tree in trees.items():
                db = f"ingest_sql_cpu_{label}"
                if tree == harness.REPO:
                    dsn = harness.ensure_database(cluster, db, fresh=True)
                else:
                    harness.drop_database(cluster, db)
                    cluster.createdb(db)
                    dsn = cluster.dsn(db)
                    harness.migrate_with(tree, dsn)
                # the first two requests register the series and create the partitions
                ms = asyncio.run(cpu_per_request(dsn, requests, warm=2))
                results.setdefault(f"{label} {shape}", []).append(ms)
                print(f"round {round_ + 1} {label:>6} {shape:<9} {ms:6.2f} ms CPU per request "
                      f"({len(requests[0]):,} samples)", flush=True)
    print()
    summary: dict[str, float] = {k: statistics.median(v) for k, v in results.items()}
    for shape in SHAPES:
        line = f"{shape:<9} after {summary[f'after {shape}']:6.2f} ms"
        if "before" in trees:
            line += (f"   before {summary[f'before {shape}']:6.2f} ms   after/before "
                     f"{summary[f'after {shape}'] / summary[f'before {shape}']:.2f}x")
        print(line)
    path = harness.save_result("ingest_sql_cpu", {
        "requests": args.requests, "rounds": args.rounds,
        "trees": {k: str(v) for k, v in trees.items()}, "cpu_ms": summary})
    print(f"saved to {path.relative_to(harness.REPO)}")
    return harness.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
