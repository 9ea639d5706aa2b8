"""Large results: the API against psql for the same call, and the API's memory while streaming.

    python -m bench.large_results                  # uvicorn, 10 s per measurement
    python -m bench.large_results --server granian
    python -m bench.large_results --baseline DIR --profile   # another checkout too; py-spy

Calls of ``get_agg_metric`` (``manifest_block_height`` on mainnet), one client at a time:

- one year at one hour (~8,760 rows) and one week at one minute (~10,080 rows): the API's
  median time per request (wrk, one connection) against psql running the same SQL
  (``select * from api.get_agg_metric(...)``, unaligned output to /dev/null, repeated in
  one session) — the ratio api/psql — and, for reference, psql fetching the JSON body the
  API sends (``json_agg``) the same way; ``--rounds N`` interleaves N rounds of API,
  baseline and psql (medians), so a neighbour's burst hits each of them;
- CPU ms per request (user + system time, which a busy machine delays but does not
  inflate, unlike wall time): the API process's, PostgreSQL's (the cluster's processes,
  exited backends included) while wrk ran, and psql's plus PostgreSQL's per statement;
  ``--profile`` also samples the API with py-spy (top frames; collapsed stacks in
  ``bench/results/large_results_*.txt``);
- the API process's resident memory sampled every 5 ms while serving each size, from a
  tiny call up to one year at one minute (~525,600 rows, with a writer JWT for its longer
  statement timeout): if the API streams, the peak does not grow with the result.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench import harness
from bench.dataset import ensure_dataset, parse_span
from bench.profile_api import summarise
from bench.rpc_throughput import literal_sql, url_for

METRIC = "manifest_block_height"


def sizes(end: datetime, start: datetime) -> dict[str, dict[str, str]]:
    year_from = max(start, end - timedelta(days=365))
    base = {"p_metric_name": METRIC, "p_schema": "mainnet", "p_to": end.isoformat()}
    return {
        "tiny (1 hour at 1 minute)": {**base, "p_interval": "1 minute",
                                      "p_from": (end - timedelta(hours=1)).isoformat()},
        "week at 1 minute": {**base, "p_interval": "1 minute",
                             "p_from": (end - timedelta(days=7)).isoformat()},
        "year at 1 hour": {**base, "p_interval": "1 hour", "p_from": year_from.isoformat()},
        "year at 1 minute": {**base, "p_interval": "1 minute", "p_from": year_from.isoformat()},
    }


TIMED = ("week at 1 minute", "year at 1 hour")


class RssSampler:
    """Samples the resident memory of a process tree every ``interval`` seconds."""

    def __init__(self, proc: harness.Process, interval: float = 0.005) -> None:
        self.proc = proc
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self.peak = self.proc.rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def psql_seconds(cluster: Any, db: str, sql: str, repeat: int) -> tuple[float, float]:
    """Wall time and CPU time (psql's and PostgreSQL's) per statement of psql running
    ``sql`` ``repeat`` times in one session."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as fh:
        fh.write((sql.rstrip(";") + ";\n") * repeat)
        script = Path(fh.name)
    try:
        argv = ["psql", "-h", cluster.host, "-p", str(cluster.port), "-U", "postgres", "-d", db,
                "-XAtq", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null"]
        subprocess.run([*argv, "-c", sql], check=True, capture_output=True)  # warm the cache
        _wait_until_reaped(cluster)
        cpu = children_cpu_seconds() + pg_cpu_seconds(cluster)
        began = time.perf_counter()
        subprocess.run([*argv, "-f", str(script)], check=True, capture_output=True)
        wall = time.perf_counter() - began
        _wait_until_reaped(cluster)  # its backend's CPU time is counted once it is reaped
        cpu = children_cpu_seconds() + pg_cpu_seconds(cluster) - cpu
        return wall / repeat, cpu / repeat
    finally:
        script.unlink()


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _postgres_children(cluster: Any) -> tuple[int, list[tuple[Path, list[str]]]]:
    """The postmaster's pid, and its children's /proc folder and stat fields."""
    postmaster = int((cluster.datadir / "postmaster.pid").read_text().split()[0])
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == postmaster:
                    children.append((entry, fields))
    return postmaster, children


def _wait_until_reaped(cluster: Any, timeout: float = 5.0) -> None:
    """Until no backend of the ``postgres`` user (psql's) is left: an exited backend's CPU
    time moves to the postmaster's reaped children's."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _pid, children = _postgres_children(cluster)
        cmdlines = []
        for folder, _fields in children:
            with contextlib.suppress(OSError):
                cmdlines.append((folder / "cmdline").read_bytes())
        if not any(c.startswith(b"postgres: postgres ") for c in cmdlines):
            return
        time.sleep(0.01)


def pg_cpu_seconds(cluster: Any) -> float:
    """CPU time used so far by the cluster: the postmaster, its live children (backends,
    background processes) and the children it has reaped (backends that exited)."""
    postmaster, children = _postgres_children(cluster)
    total = _stat_cpu(postmaster, reaped=True)
    for _folder, fields in children:
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _stat_cpu(pid: int, *, reaped: bool = False) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def timed_wrk(label: str, url: str, proc: harness.Process, cluster: Any, *,
              duration: float) -> tuple[harness.LoadResult, float, float]:
    """wrk with one connection on ``url``; the API's and PostgreSQL's CPU ms per request
    meanwhile (user + system time: a busy machine delays a process but does not add to
    its CPU time)."""
    api_before, pg_before = proc.cpu_seconds(), pg_cpu_seconds(cluster)
    load = harness.run_wrk(label, url, connections=1, duration=duration)
    api_used, pg_used = proc.cpu_seconds() - api_before, pg_cpu_seconds(cluster) - pg_before
    requests = load.rps * duration
    if not requests:
        return load, 0.0, 0.0
    return load, api_used / requests * 1000, pg_used / requests * 1000


def profiled_wrk(label: str, url: str, proc: harness.Process, *, duration: float,
                 stem: str, rate: int = 250) -> tuple[harness.LoadResult, dict[str, Any]]:
    """wrk (one connection) on ``url`` while ``py-spy record`` samples the API (idle frames
    excluded): the load and the top frames."""
    path = harness.RESULTS_DIR / f"large_results_{stem}.txt"
    harness.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    load: dict[str, harness.LoadResult] = {}
    # wrk runs a second longer than py-spy so every sample is taken under load
    worker = threading.Thread(target=lambda: load.update(
        wrk=harness.run_wrk(label, url, connections=1, duration=duration + 1)))
    worker.start()
    spy = sys.executable.replace("/python", "/py-spy")
    if not Path(spy).exists():
        spy = shutil.which("py-spy") or "py-spy"
    subprocess.run([spy, "record", "--pid", str(proc.pid), "--rate", str(rate), "--duration",
                    str(round(duration)), "--nonblocking", "--format", "raw", "--output",
                    str(path)], check=True, capture_output=True)
    worker.join()
    wrk = load["wrk"]
    summary = summarise(path, 8)
    summary["collapsed"] = str(path.relative_to(harness.REPO))
    return wrk, summary


def print_profile(label: str, summary: dict[str, Any]) -> None:
    print(f"{'':<18} py-spy, {label}: top frames by own time:")
    for name, share in summary["own"][:6]:
        print(f"{'':<20} {share * 100:5.1f} %  {name}")


def run(*, server: str, span: timedelta, duration: float, repeat: int,
        baseline: Path | None = None, profile: bool = False, rounds: int = 1) -> dict[str, Any]:
    db, description = ensure_dataset(span)
    cluster = harness.bench_cluster()
    end = datetime.fromisoformat(description["end"])
    start = datetime.fromisoformat(description["start"])
    calls = sizes(end, start)
    jwt = {"Authorization": f"Bearer {harness.writer_token('bench-large')}"}
    # the response cache off: it would keep the smaller answers (≤ 1 MiB)
    env = harness.api_env(cluster, db, METRICS_RPC_CACHE="off")
    out: dict[str, Any] = {"db": db, "server": server, "timed": {}, "rss": {},
                           "baseline": str(baseline) if baseline else None}
    harness.heading(f"Large results: {db}, {server}, get_agg_metric('{METRIC}', 'mainnet', ...)")
    with contextlib.ExitStack() as stack:
        proc, base = stack.enter_context(
            harness.running("api", server, env, ready_path="/ready"))
        before, before_proc = None, proc
        if baseline is not None:
            before_proc, before = stack.enter_context(harness.running(
                "api", server, env, ready_path="/ready", cwd=baseline, pythonpath=baseline))
        for label in TIMED:
            args = calls[label]
            url = url_for(base, "get_agg_metric", args)
            status, body = harness.get(url)
            if status != 200:
                raise RuntimeError(f"GET {url} → {status}: {body[:300]!r}")
            rows = body.count(b'"timestamp"')
            other_url = url_for(before, "get_agg_metric", args) if before is not None else ""
            plain = "select * from api.get_agg_metric(" + ", ".join(
                f"{k} := '{v}'" for k, v in args.items()) + ")"
            harness.run_wrk("warmup", url, connections=1, duration=1)
            if before is not None:
                harness.run_wrk("warmup", other_url, connections=1, duration=1)
            # rounds interleave API, baseline and psql, so a neighbour's burst hits all three
            runs: dict[str, list[float]] = collections.defaultdict(list)
            for _ in range(rounds):
                api, api_cpu, api_pg_cpu = timed_wrk(f"api {label}", url, proc, cluster,
                                                     duration=duration)
                runs["api_p50_ms"].append(api.p50_ms)
                runs["api_p99_ms"].append(api.p99_ms)
                runs["api_cpu_ms"].append(api_cpu)
                runs["api_pg_cpu_ms"].append(api_pg_cpu)
                if before is not None:
                    other, other_cpu, other_pg_cpu = timed_wrk(
                        f"baseline {label}", other_url, before_proc, cluster, duration=duration)
                    runs["baseline_p50_ms"].append(other.p50_ms)
                    runs["baseline_p99_ms"].append(other.p99_ms)
                    runs["baseline_cpu_ms"].append(other_cpu)
                    runs["baseline_pg_cpu_ms"].append(other_pg_cpu)
                wall, cpu = psql_seconds(cluster, db, plain, repeat)
                runs["psql_rows_ms"].append(wall * 1000)
                runs["psql_cpu_ms"].append(cpu * 1000)
            psql_json = psql_seconds(cluster, db, literal_sql("get_agg_metric", args), repeat)[0]
            result = {key: harness.median(values) for key, values in runs.items()}
            psql_rows = result["psql_rows_ms"]
            result |= {"rows": rows, "bytes": len(body), "psql_json_ms": psql_json * 1000,
                       "rounds": dict(runs), "api_over_psql": result["api_p50_ms"] / psql_rows,
                       "api_cpu_over_psql": (result["api_cpu_ms"] + result["api_pg_cpu_ms"])
                       / result["psql_cpu_ms"]}
            out["timed"][label] = result
            print(f"{label:<18} {rows:>7,} rows {len(body) / 1e6:>6.2f} MB   api p50 "
                  f"{result['api_p50_ms']:>7.1f} ms (p99 {result['api_p99_ms']:.1f})   psql "
                  f"{psql_rows:>7.1f} ms   psql json {psql_json * 1000:>7.1f} ms   api/psql "
                  f"{result['api_over_psql']:.2f}x", flush=True)
            print(f"{'':<18} CPU ms per request: API {result['api_cpu_ms']:.1f} + PostgreSQL "
                  f"{result['api_pg_cpu_ms']:.1f}, psql {result['psql_cpu_ms']:.1f} (client + "
                  f"PostgreSQL): api/psql {result['api_cpu_over_psql']:.2f}x", flush=True)
            if before is not None:
                result |= {"baseline_over_psql": result["baseline_p50_ms"] / psql_rows,
                           "baseline_cpu_over_psql": (result["baseline_cpu_ms"]
                                                      + result["baseline_pg_cpu_ms"])
                           / result["psql_cpu_ms"]}
                print(f"{'':<18} baseline p50 {result['baseline_p50_ms']:>7.1f} ms (p99 "
                      f"{result['baseline_p99_ms']:.1f})   baseline/psql "
                      f"{result['baseline_over_psql']:.2f}x   CPU ms per request: API "
                      f"{result['baseline_cpu_ms']:.1f} + PostgreSQL "
                      f"{result['baseline_pg_cpu_ms']:.1f}: baseline/psql "
                      f"{result['baseline_cpu_over_psql']:.2f}x", flush=True)
            slug = label.replace(" ", "_")
            if profile:
                result["profile"] = profiled_wrk(f"api {label}", url, proc,
                                                 duration=duration, stem=slug)[1]
                print_profile("api", result["profile"])
            if profile and before is not None:
                result["baseline_profile"] = profiled_wrk(
                    f"baseline {label}", other_url, before_proc, duration=duration,
                    stem=f"baseline_{slug}")[1]
                print_profile("baseline", result["baseline_profile"])

        harness.heading("API resident memory while serving (process tree)")
        for _ in range(20):  # settle allocator and caches with small calls first
            harness.get(url_for(base, "get_agg_metric", calls["tiny (1 hour at 1 minute)"]))
        baseline = proc.rss_bytes()
        print(f"{'baseline':<28} {baseline / 2**20:>8.1f} MiB")
        for label, args in calls.items():
            url = url_for(base, "get_agg_metric", args)
            with RssSampler(proc) as sampler:
                began = time.perf_counter()
                for _ in range(3):
                    status, body = harness.get(url, jwt)
                    if status != 200:
                        raise RuntimeError(f"GET {url} → {status}: {body[:300]!r}")
                seconds = (time.perf_counter() - began) / 3
            growth = sampler.peak - baseline
            out["rss"][label] = {"bytes": len(body), "peak_rss": sampler.peak,
                                 "growth": growth, "seconds": seconds}
            print(f"{label:<28} {len(body) / 1e6:>7.2f} MB body   peak RSS "
                  f"{sampler.peak / 2**20:>7.1f} MiB   (+{growth / 2**20:.1f} MiB over "
                  f"baseline)   {seconds * 1000:.0f} ms/request", flush=True)
        out["baseline_rss"] = baseline
        out["vm_hwm"] = proc.peak_rss_bytes()
    path = harness.save_result("large_results", out)
    print(f"\nsaved to {path.relative_to(harness.REPO)}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="large results: API vs psql, API memory")
    parser.add_argument("--server", choices=harness.SERVERS, default="uvicorn")
    parser.add_argument("--span", type=parse_span, default=parse_span("365d"),
                        help="dataset to run against (generated when missing; default 365d)")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds of API requests per size")
    parser.add_argument("--repeat", type=int, default=20, help="psql repetitions per size")
    parser.add_argument("--baseline", type=Path,
                        help="also time the API of this checkout (before/after in one run)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="interleaved rounds of API, baseline and psql per size (medians)")
    parser.add_argument("--profile", action="store_true",
                        help="also sample the API with py-spy under each timed call: its CPU "
                             "ms per request and top frames (collapsed stacks in bench/results)")
    args = parser.parse_args(argv)
    run(server=args.server, span=args.span, duration=args.duration, repeat=args.repeat,
        baseline=args.baseline, profile=args.profile, rounds=args.rounds)
    return harness.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
