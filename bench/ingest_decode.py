"""CPU per remote-write request in the API: decoding and the write statement's arguments.

    python -m bench.ingest_decode                        # this checkout
    python -m bench.ingest_decode --baseline /tmp/orig   # and a checkout from before a change

The exact bodies ``bench.ingest`` sends: its high-churn backfill (1,800 samples of 300
minutes, one per series, four names with a fresh 21-digit big-number label every minute)
and its scrape (2,000 stable series of the dataset catalogue and host gauges, one sample
each; the catalogue's tokenomics series with a fresh big-number label). Each round runs
one fresh process per checkout (its own ``api`` package, rounds alternating): one pass over
the bodies first, so the label-set cache is as warm as in a running server, then the best
of ``--repeat`` passes of ``decode_request`` + ``remote_write.statements`` (what the API
does per request before asyncpg), in CPU time. Printed: ms per request, the best round of
each checkout, and after/before. No database, no HTTP: a development tool next to
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

# Run inside each checkout: argv[1] is the pickled bodies, argv[2] the passes per shape.
MEASURE = """
import json, pickle, sys, time
from api.ingest import decode, remote_write
from api.ingest.encode import V1_HEADERS

shapes = pickle.load(open(sys.argv[1], "rb"))
repeat = int(sys.argv[2])
series_ids = remote_write.SeriesIds()

def one_pass(bodies):
    began = time.process_time()
    for body in bodies:
        decoded = decode.decode_request(body, V1_HEADERS["Content-Type"], "snappy")
        remote_write.statements(decoded, series_ids)
    return (time.process_time() - began) / len(bodies)

out = {}
for shape, bodies in shapes.items():
    one_pass(bodies)  # the label-set cache, as warm as in a running server
    out[shape] = min(one_pass(bodies) for _ in range(repeat))
print(json.dumps(out))
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


def measure(tree: Path, path: Path, repeat: int) -> dict[str, float]:
    """Seconds of CPU per request and shape, measured in a fresh process of ``tree``."""
    done = subprocess.run([harness.PYTHON, "-c", MEASURE, str(path), str(repeat)], cwd=tree,
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
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bodies.pickle"
        path.write_bytes(pickle.dumps(bodies(args.requests)))
        for _ in range(args.rounds):
            for label, tree in trees.items():
                for shape, seconds in measure(tree, path, args.repeat).items():
                    best[label][shape] = min(seconds, best[label].get(shape, seconds))
    for label, shapes in best.items():
        print(f"{label:<7} " + "   ".join(
            f"{shape} {seconds * 1000:6.2f} ms/request" for shape, seconds in shapes.items()))
    if "before" in best:
        print("after/before " + "   ".join(
            f"{shape} {best['after'][shape] / best['before'][shape]:.2f}x"
            for shape in best["after"]))
    path = harness.save_result("ingest_decode", {
        "requests": args.requests, "rounds": args.rounds, "repeat": args.repeat,
        "trees": {k: str(v) for k, v in trees.items()}, "cpu_ms_per_request": {
            label: {shape: s * 1000 for shape, s in shapes.items()}
            for label, shapes in best.items()}})
    print(f"saved to {path.relative_to(harness.REPO)}")
    return harness.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
