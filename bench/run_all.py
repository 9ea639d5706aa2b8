"""Every benchmark, one after the other: ``make bench`` (or ``python -m bench.run_all``).

    python -m bench.run_all            # one year of data (generated once, ~10 min), full runs
    python -m bench.run_all --quick    # 14 days of data, short runs: a smoke test, ~2 min

Each benchmark prints its figures and ratios and appends them to bench/results/*.jsonl.
"""

from __future__ import annotations

import argparse
import time

from bench import (
    aggregation,
    functions,
    harness,
    ingest,
    large_results,
    response_cache,
    rpc_throughput,
    scale_out,
)
from bench.dataset import ensure_dataset, parse_span


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run every benchmark")
    parser.add_argument("--quick", action="store_true",
                        help="14 days of data and short runs (a smoke test, not figures)")
    parser.add_argument("--span", type=parse_span, help="dataset span (default 365d, quick 14d)")
    parser.add_argument("--server", choices=(*harness.SERVERS, "both"), default="both",
                        help="servers for the throughput run (default both)")
    args = parser.parse_args(argv)
    quick = args.quick
    span = args.span or parse_span("14d" if quick else "365d")
    began = time.monotonic()
    print(f"machine: {harness.machine_notes()}", flush=True)
    db, description = ensure_dataset(span)
    print(f"dataset {db}: {description.get('samples', '?'):,} samples, "
          f"{description.get('observations', '?'):,} observations", flush=True)
    servers = list(harness.SERVERS) if args.server == "both" else [args.server]
    rpc_throughput.run(servers=servers, span=span, duration=3 if quick else 10,
                       connections=32, pool=10, rate_limits=harness.HUGE_RATE_LIMITS,
                       warmup=1 if quick else 2, rounds=1 if quick else 3, limiter_off=True)
    response_cache.run(duration=3 if quick else 10, connections=32, pool=10,
                       rounds=1 if quick else 3, warmup=1 if quick else 2,
                       writes=10 if quick else 50)
    large_results.run(server=servers[0], span=span, duration=3 if quick else 10,
                      repeat=5 if quick else 20, rounds=1 if quick else 3)
    aggregation.run(span=span, repeat=5 if quick else 20, raw_repeat=1 if quick else 2)
    functions.run(span=span, repeat=5 if quick else 20)
    ingest.run(server=servers[0], requests=50 if quick else 300, batch=2000, concurrency=4)
    scale_out.run(duration=3 if quick else 8, rounds=1 if quick else 3, connections=32, pool=10)
    print(f"\nall benchmarks done in {time.monotonic() - began:.0f} s")
    return harness.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
