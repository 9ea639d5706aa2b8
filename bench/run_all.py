"""Every benchmark, one after the other: ``make bench`` (or ``python -m bench.run_all``).

    python -m bench.run_all            # one year of data (generated once, ~10 min), full runs
    python -m bench.run_all --quick    # 14 days of data, short runs: a smoke test, ~2 min
    python -m bench.run_all --baseline ../other-checkout   # also time that checkout's API

Each benchmark prints its figures and ratios and appends them to bench/results/*.jsonl; at
the end the goals at a glance (``bench.goals``) are printed from this run's results and
written to bench/results/goals.md. A benchmark that fails is reported and the others still
run; the command then exits non-zero.
"""

from __future__ import annotations

import argparse
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    aggregation,
    dashboard,
    functions,
    goals,
    harness,
    ingest,
    large_results,
    profile_api,
    response_cache,
    rpc_throughput,
    scale_out,
)
from bench.dataset import ensure_dataset, parse_span


def _phase(name: str, bench: Callable[..., Any], **kwargs: Any) -> None:
    """Run one benchmark; a failure is recorded (the run exits non-zero) and the rest go on.
    The benchmark cluster is settled first (``harness.settle``), so no benchmark is timed
    while the previous one's checkpoint or autovacuum still runs."""
    harness.next_phase()
    harness.settle(harness.bench_cluster())
    try:
        bench(**kwargs)
    except Exception as exc:  # one broken benchmark must not cost the others' figures
        traceback.print_exc()
        harness.problem(f"{name} failed: {exc}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run every benchmark")
    parser.add_argument("--quick", action="store_true",
                        help="14 days of data and short runs (a smoke test, not figures)")
    parser.add_argument("--span", type=parse_span, help="dataset span (default 365d, quick 14d)")
    parser.add_argument("--server", choices=(*harness.SERVERS, "both"), default="both",
                        help="servers for the throughput run (default both)")
    parser.add_argument("--baseline", type=Path,
                        help="another checkout (e.g. the previous release) whose API is timed "
                             "next to this one in the throughput, large-result and profile "
                             "runs")
    args = parser.parse_args(argv)
    quick = args.quick
    span = args.span or parse_span("14d" if quick else "365d")
    began = time.monotonic()
    since = datetime.now(UTC).replace(microsecond=0)
    print(f"machine: {harness.machine_notes()}", flush=True)
    db, description = ensure_dataset(span)
    print(f"dataset {db}: {description.get('samples', '?'):,} samples, "
          f"{description.get('observations', '?'):,} observations", flush=True)
    servers = list(harness.SERVERS) if args.server == "both" else [args.server]
    short, rounds = (3, 1) if quick else (10, 3)
    _phase("rpc_throughput", rpc_throughput.run, servers=servers, span=span, duration=short,
           connections=32, pool=10, rate_limits=harness.HUGE_RATE_LIMITS,
           warmup=1 if quick else 2, rounds=rounds, limiter_off=True, baseline=args.baseline)
    _phase("profile_api", profile_api.run, span=span, duration=5 if quick else 15,
           rate_limits=harness.HUGE_RATE_LIMITS, top=15, rate=250, baseline=args.baseline)
    _phase("response_cache", response_cache.run, duration=short, connections=32, pool=10,
           rounds=rounds, warmup=1 if quick else 2, writes=10 if quick else 50)
    _phase("large_results", large_results.run, server=servers[0], span=span, duration=short,
           repeat=5 if quick else 20, rounds=rounds, baseline=args.baseline)
    _phase("aggregation", aggregation.run, span=span, repeat=5 if quick else 20,
           raw_repeat=1 if quick else 2)
    _phase("functions", functions.run, span=span, repeat=5 if quick else 20)
    _phase("ingest", ingest.run, server=servers[0], requests=50 if quick else 300, batch=2000,
           concurrency=4, rounds=rounds)
    _phase("scale_out", scale_out.run, duration=3 if quick else 8, rounds=rounds,
           connections=32, pool=10)
    _phase("dashboard", dashboard.run, loads=2 if quick else 5)
    goals.report(since)
    print(f"\nall benchmarks done in {time.monotonic() - began:.0f} s")
    return harness.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
