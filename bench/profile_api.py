"""Where the API's time goes under load: py-spy on the real server while wrk runs.

    python -m bench.profile_api                     # limiter on, then off; 15 s each
    python -m bench.profile_api --baseline /tmp/before   # and another checkout's API first
    python -m bench.profile_api --duration 30 --rate-limits 'web_anon=60/minute'
    python -m bench.profile_api --cache on          # the hot cached GET (every request a hit)

For each configuration (rate limiter on with the benchmark's huge limits, so it never
rejects, and off; with ``--baseline DIR`` also another checkout's API with the limiter
on) the API is started under uvicorn, loaded with wrk (32 connections,
``GET /rpc/get_latest_fdv?p_schema=mainnet``, anonymous; the response cache off as in
``bench.rpc_throughput``, or on with ``--cache on`` as in ``bench.response_cache``'s hot
GET, labels then end in ``_cached``) and sampled by
``py-spy record`` (idle frames excluded, so waiting in epoll is not counted). Printed per
configuration: req/s, the share of samples with a rate-limiter frame (``limits`` or
``api/ratelimit.py``) or in a thread pool worker, and the top frames by own time and by
inclusive time, as shares of the samples (async stacks are sampled from the running
coroutine, so they do not all reach the event loop's frames). The collapsed stacks are saved as
``bench/results/profile_api_<label>.txt`` (open them in speedscope or flamegraph.pl for
the whole flame graph). Needs ``py-spy`` (``pip install -e '.[bench]'``) and the right to
trace a child process (root, or ``kernel.yama.ptrace_scope`` = 0).
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from bench import harness
from bench.dataset import ensure_dataset, parse_span

URL_PATH = "/rpc/get_latest_fdv?p_schema=mainnet"
# "handle (api/rpc/pipeline.py:120)" → "handle (api/rpc/pipeline.py)"
_LINE = re.compile(r":\d+\)$")


def _frame(raw: str) -> str:
    name = _LINE.sub(")", raw.strip())
    # site-packages paths are long; keep the package-relative part
    return re.sub(r"\(.*?(?:site-packages|lib/python3\.\d+)/", "(", name)


def summarise(collapsed: Path, top: int) -> dict[str, Any]:
    """Own and inclusive shares per frame from py-spy's collapsed ("raw") output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = limiter = threads = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";")]
        # the first entry is the thread ("process 123:"…); frames follow
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        if any("(limits/" in f or "api/ratelimit.py" in f for f in frames):
            limiter += count
        if any("concurrent/futures/thread.py" in f for f in frames):
            threads += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    return {
        "samples": total,
        "limiter_share": limiter / total if total else 0.0,
        "thread_pool_share": threads / total if total else 0.0,
        "own": [(name, n / total) for name, n in own.most_common(top)] if total else [],
        "inclusive": [(name, n / total) for name, n in inclusive.most_common(top)]
        if total else [],
    }


def profile(label: str, env: dict[str, str], *, duration: float, top: int,
            rate: int, checkout: Path = harness.REPO) -> dict[str, Any]:
    stem = harness.RESULTS_DIR / f"profile_api_{label}"
    pythonpath = None if checkout == harness.REPO else checkout
    with harness.running("api", "uvicorn", env, ready_path="/ready", cwd=checkout,
                         pythonpath=pythonpath) as (proc, base):
        url = base + URL_PATH
        status, body = harness.get(url)
        if status != 200:
            raise RuntimeError(f"GET {url} → {status}: {body[:200]!r}")
        harness.run_wrk("warmup", url, duration=2)
        load: dict[str, harness.LoadResult] = {}
        # wrk runs a second longer than py-spy so every sample is taken under load
        worker = threading.Thread(target=lambda: load.update(
            wrk=harness.run_wrk(label, url, duration=duration + 1)))
        worker.start()
        spy = [sys.executable.replace("/python", "/py-spy"), "record", "--pid", str(proc.pid),
               "--rate", str(rate), "--duration", str(round(duration)), "--nonblocking"]
        if not Path(spy[0]).exists():
            spy[0] = shutil.which("py-spy") or "py-spy"
        subprocess.run([*spy, "--format", "raw", "--output", f"{stem}.txt"], check=True,
                       capture_output=True)
        worker.join()
    summary = summarise(Path(f"{stem}.txt"), top)
    wrk = load["wrk"]
    print(f"\n{label}: {wrk.rps:,.0f} req/s, p99 {wrk.p99_ms:.1f} ms, "
          f"{summary['samples']} samples, {summary['limiter_share'] * 100:.1f} % with a "
          f"rate-limiter frame, {summary['thread_pool_share'] * 100:.1f} % in a thread pool")
    for kind in ("own", "inclusive"):
        print(f"  top frames by {kind} time:")
        for name, share in summary[kind]:
            print(f"    {share * 100:5.1f} %  {name}")
    return {"label": label, "rps": wrk.rps, "p99_ms": wrk.p99_ms, **summary,
            "collapsed": str(Path(f"{stem}.txt").relative_to(harness.REPO))}


def run(span: Any, duration: float, rate_limits: str, top: int, rate: int,
        baseline: Path | None = None, cache: str = "off") -> None:
    db, _info = ensure_dataset(span)
    cluster = harness.bench_cluster()
    harness.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    harness.heading(f"API profile under wrk (32 connections, {URL_PATH}, response cache "
                    f"{cache}), py-spy at {rate} Hz for {duration:g} s")
    suffix = "_cached" if cache == "on" else ""
    results = []
    if baseline is not None:
        env = harness.api_env(cluster, db, rate_limits=rate_limits, METRICS_RPC_CACHE=cache)
        results.append(profile(f"baseline_limiter_on{suffix}", env, duration=duration,
                               top=top, rate=rate, checkout=baseline.resolve()))
    for label, limits in (("limiter_on", rate_limits), ("limiter_off", "off")):
        env = harness.api_env(cluster, db, rate_limits=limits, METRICS_RPC_CACHE=cache)
        results.append(profile(label + suffix, env, duration=duration, top=top, rate=rate))
    path = harness.save_result("profile_api", {"db": db, "duration": duration,
                                               "rate_limits": rate_limits, "cache": cache,
                                               "results": results})
    print(f"\nsaved to {path.relative_to(harness.REPO)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="py-spy profile of the API under wrk")
    parser.add_argument("--span", type=parse_span, default=parse_span("365d"))
    parser.add_argument("--duration", type=float, default=15.0, help="seconds sampled")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=15, help="frames listed per table")
    parser.add_argument("--rate-limits", default=harness.HUGE_RATE_LIMITS,
                        help="METRICS_RPC_RATE_LIMITS for the 'on' run (default: huge)")
    parser.add_argument("--baseline", type=Path,
                        help="also profile the API of this checkout (limiter on)")
    parser.add_argument("--cache", choices=("off", "on"), default="off",
                        help="METRICS_RPC_CACHE: off (default, as bench.rpc_throughput) or on "
                             "(the hot cached GET, as bench.response_cache)")
    args = parser.parse_args(argv)
    run(args.span, args.duration, args.rate_limits, args.top, args.rate, args.baseline,
        args.cache)
    return harness.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
