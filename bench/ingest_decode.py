"""CPU per remote-write request in the API: decoding and binding the write's arguments.

    python -m bench.ingest_decode                        # this checkout
    python -m bench.ingest_decode --baseline /tmp/orig   # and a checkout from before a change

The exact bodies ``bench.ingest`` sends: its high-churn backfill (1,800 samples of 300
minutes, one per series, four names with a fresh 21-digit big-number label every minute)
and its scrape (2,000 stable series of the dataset catalogue and host gauges, one sample
each; the catalogue's tokenomics series with a fresh big-number label). Each round runs
one fresh process per checkout (its own ``api`` package, rounds alternating): one pass over
the bodies first, so the label-set cache and the series ids are as warm as in a running
server, then the best of ``--repeat`` passes, in the API's CPU time per request, of

- decode: ``decode_request`` + ``remote_write.statements`` (the arguments of the write);
- bind: asyncpg binding those arguments (the write's parameter types and casts, in a
  statement that does nothing else, so the database's work is not counted);
- total: the two.

Printed: ms per request, the best round of each checkout, and after/before. The database is
the bench cluster's ``postgres``; no HTTP: a development tool next to
``bench.ingest_profile``, which measures the same change end to end.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench import harness
from bench.ingest import backfill, body_of, fleet, scrape

# Run inside each checkout: argv[1] is the pickled bodies, argv[2] the passes per shape,
# argv[3] a database to bind the arguments against.
MEASURE = """
import asyncio, json, pickle, sys, time
from datetime import UTC, datetime, timedelta
import asyncpg
from api.ingest import decode, remote_write
from api.ingest.encode import V1_HEADERS

shapes = pickle.load(open(sys.argv[1], "rb"))
repeat = int(sys.argv[2])
series_ids = remote_write.SeriesIds()
# WRITE_SQL's parameters, types and casts, bound to a statement that does nothing else
call = remote_write.WRITE_SQL.split("write_series_samples_ms(", 1)[1].rstrip()[:-1]
NOOP_SQL = f"select row({call}) is null"

def decoded(bodies):
    out = []
    for body in bodies:
        request = decode.decode_request(body, V1_HEADERS["Content-Type"], "snappy")
        out.append(remote_write.statements(request, series_ids))
        for keys, _args in out[-1]:  # as if the database had returned their ids
            series_ids.remember("routes", keys, list(range(1, len(keys) + 1)))
    return out

def decode_pass(bodies):
    began = time.process_time()
    decoded(bodies)
    return (time.process_time() - began) / len(bodies)

async def bind_pass(conn, statements):
    stmt = await conn.prepare(NOOP_SQL)
    extra = (datetime.now(UTC), timedelta(minutes=10), None)
    began = time.process_time()
    for one in statements:
        for _keys, args in one:
            await stmt.fetchrow(*args, *extra)
    return (time.process_time() - began) / len(statements)

async def main():
    conn = await asyncpg.connect(sys.argv[3])
    out = {}
    for shape, bodies in shapes.items():
        decoded(bodies)  # the label-set cache and series ids, as warm as in a running server
        statements = decoded(bodies)
        out[shape + " decode"] = min(decode_pass(bodies) for _ in range(repeat))
        out[shape + " bind"] = min([await bind_pass(conn, statements) for _ in range(repeat)])
        out[shape + " total"] = out[shape + " decode"] + out[shape + " bind"]
    await conn.close()
    print(json.dumps(out))

asyncio.run(main())
"""


def bodies(requests: int) -> dict[str, list[bytes]]:
    """``requests`` bodies of each shape, as ``bench.ingest`` builds them."""
    rng = random.Random(7)
    end = datetime(2026, 6, 1, tzinfo=UTC)
    series = fleet(2000)
    start = int(end.timestamp() * 1000) - 15_000 * requests
    return {
        "backfill": [body_of(r) for r in backfill(requests, end, rng)],
        "scrape": [body_of(scrape(series, start + 15_000 * i, rng)) for i in range(requests)],
    }


def measure(tree: Path, path: Path, repeat: int, dsn: str) -> dict[str, float]:
    """Seconds of CPU per request and shape, measured in a fresh process of ``tree``."""
    done = subprocess.run([harness.PYTHON, "-c", MEASURE, str(path), str(repeat), dsn],
                          cwd=tree,
                          env={**os.environ, "PYTHONPATH": str(tree)}, check=True,
                          capture_output=True, text=True)
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="bodies of each shape")
    parser.add_argument("--rounds", type=int, default=5, help="processes per checkout")
    parser.add_argument("--repeat", type=int, default=5, help="passes per process")
    parser.add_argument("--baseline", type=Path, help="another checkout, e.g. before a change")
    args = parser.parse_args(argv)
    trees = {"after": harness.REPO}
    if args.baseline:
        trees = {"before": args.baseline.resolve(), "after": harness.REPO}
    best: dict[str, dict[str, float]] = {label: {} for label in trees}
    dsn = harness.bench_cluster().dsn()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bodies.pickle"
        path.write_bytes(pickle.dumps(bodies(args.requests)))
        for _ in range(args.rounds):
            for label, tree in trees.items():
                for shape, seconds in measure(tree, path, args.repeat, dsn).items():
                    best[label][shape] = min(seconds, best[label].get(shape, seconds))
    print(f"{'ms of CPU per request':<22}" + "".join(f"{shape:>16}" for shape in best["after"]))
    for label, shapes in best.items():
        print(f"{label:<22}" + "".join(f"{s * 1000:>16.2f}" for s in shapes.values()))
    if "before" in best:
        print(f"{'after/before':<22}" + "".join(
            f"{best['after'][shape] / best['before'][shape]:>15.2f}x" for shape in best["after"]))
    path = harness.save_result("ingest_decode", {
        "requests": args.requests, "rounds": args.rounds, "repeat": args.repeat,
        "trees": {k: str(v) for k, v in trees.items()}, "cpu_ms_per_request": {
            label: {shape: s * 1000 for shape, s in shapes.items()}
            for label, shapes in best.items()}})
    print(f"saved to {path.relative_to(harness.REPO)}")
    return harness.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
