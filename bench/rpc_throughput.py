"""RPC throughput and latency at 32 connections, against two references in the same run.

    python -m bench.rpc_throughput                       # both servers, 10 s per run
    python -m bench.rpc_throughput --server granian --duration 20

Two calls: the small ``GET /rpc/get_latest_fdv?p_schema=mainnet`` and a mid-size
``get_agg_circulating_supply`` (one week at one hour, ~168 rows). Each is loaded with wrk
on loopback, anonymous and with a writer JWT, against:

- our API (JWT check, role switch, request GUCs, rate limiter that never rejects);
- a minimal Litestar + asyncpg app running the same SQL as one query per request on a
  pool of the same size, no auth, no role switch, no rate limit (``bench/minimal_app.py``);
- pgbench running that SQL directly with the same number of connections.

All servers run at once and the configurations are interleaved over ``--rounds`` rounds
(medians reported), so a neighbour's burst on this shared machine hits every
configuration rather than one. Printed: req/s, p50, p99 and the ratios api/pgbench and
api/minimal, and the API's p99 over the minimal app's. With both servers (the default) it
also prints granian/uvicorn for the API and for the minimal app.

Extra configurations of the small call, in the same rounds: ``--limiter-off`` (our API
with ``METRICS_RPC_RATE_LIMITS=off``) and ``--baseline DIR`` (the API of another checkout,
e.g. ``git archive main | tar -x -C DIR``: before/after in one run; the baseline also
runs the mid call).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import urllib.parse
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench import harness
from bench.dataset import ensure_dataset, parse_span
from bench.minimal_app import call_sql

CALLS: dict[str, tuple[str, list[str]]] = {
    # label → (function, argument names in order)
    "small": ("get_latest_fdv", ["p_schema"]),
    "mid": ("get_agg_circulating_supply", ["p_schema", "p_interval", "p_from", "p_to"]),
}


def call_args(label: str, end: datetime) -> dict[str, str]:
    if label == "small":
        return {"p_schema": "mainnet"}
    return {"p_schema": "mainnet", "p_interval": "1 hour",
            "p_from": (end - timedelta(days=7)).isoformat(), "p_to": end.isoformat()}


def url_for(base: str, function: str, args: dict[str, str]) -> str:
    return f"{base}/rpc/{function}?{urllib.parse.urlencode(args, quote_via=urllib.parse.quote)}"


def literal_sql(function: str, args: dict[str, str]) -> str:
    """The minimal app's statement with its parameters inlined (for pgbench)."""
    sql = call_sql(function, list(args))
    for i, value in reversed(list(enumerate(args.values(), start=1))):
        sql = sql.replace(f"${i}::", "'" + value.replace("'", "''") + "'::")
    return sql


def _check(url: str, headers: dict[str, str]) -> Any:
    status, body = harness.get(url, headers)
    if status != 200:
        raise RuntimeError(f"GET {url} → {status}: {body[:300]!r}")
    return json.loads(body)


def run(*, servers: list[str], span: timedelta, duration: float, connections: int,
        pool: int, rate_limits: str, warmup: float, rounds: int, limiter_off: bool = False,
        baseline: Path | None = None) -> dict[str, Any]:
    db, description = ensure_dataset(span)
    cluster = harness.bench_cluster()
    end = datetime.fromisoformat(description["end"])
    token = harness.writer_token("bench-throughput")
    jwt = {"Authorization": f"Bearer {token}"}
    # the response cache off: this measures the request pipeline and its query
    # (bench/response_cache.py measures the cache)
    api_env = harness.api_env(cluster, db, pool=pool, rate_limits=rate_limits,
                              METRICS_RPC_CACHE="off")
    minimal_env = {**api_env, "BENCH_MINIMAL_DSN": cluster.dsn(db), "PGRST_DB_POOL": str(pool)}
    runs: dict[str, list[harness.LoadResult]] = {}

    def load(key: str, url: str, headers: dict[str, str] | None = None) -> None:
        if warmup:
            harness.run_wrk("warmup", url, connections=connections, duration=warmup,
                            headers=headers)
        result = harness.run_wrk(key, url, connections=connections, duration=duration,
                                 headers=headers)
        runs.setdefault(key, []).append(result)
        print(result.line(), flush=True)

    harness.heading(f"RPC throughput: {db}, {connections} connections, {duration:g} s per run, "
                    f"pool {pool}, {rounds} round(s), configurations interleaved")
    with contextlib.ExitStack() as stack:
        bases: dict[str, str] = {}
        for server in servers:  # all up at once; idle ones cost nothing
            _proc, bases[f"api/{server}"] = stack.enter_context(
                harness.running("api", server, api_env, ready_path="/ready"))
            _proc, bases[f"minimal/{server}"] = stack.enter_context(
                harness.running("minimal", server, minimal_env))
            if limiter_off:
                _proc, bases[f"api-limiter-off/{server}"] = stack.enter_context(harness.running(
                    "api", server, {**api_env, "METRICS_RPC_RATE_LIMITS": "off"},
                    ready_path="/ready"))
            if baseline is not None:
                _proc, bases[f"baseline/{server}"] = stack.enter_context(harness.running(
                    "api", server, api_env, ready_path="/ready", cwd=baseline,
                    pythonpath=baseline))
        for label, (function, _names) in CALLS.items():
            args = call_args(label, end)
            rows = _check(url_for(bases[f"api/{servers[0]}"], function, args), {})
            _check(url_for(bases[f"api/{servers[0]}"], function, args), jwt)
            _check(url_for(bases[f"minimal/{servers[0]}"], function, args), {})
            print(f"  {label}: {function} → {len(rows) if isinstance(rows, list) else 1} row(s)",
                  flush=True)
        for round_no in range(1, rounds + 1):
            print(f"-- round {round_no}/{rounds}", flush=True)
            for label, (function, _names) in CALLS.items():
                args = call_args(label, end)
                for server in servers:
                    url = url_for(bases[f"api/{server}"], function, args)
                    load(f"api/{server}/{label}/anon", url)
                    load(f"api/{server}/{label}/jwt", url, jwt)
                    load(f"minimal/{server}/{label}",
                         url_for(bases[f"minimal/{server}"], function, args))
                    for extra in ("api-limiter-off", "baseline"):
                        if (label == "small" or extra == "baseline") and \
                                f"{extra}/{server}" in bases:
                            load(f"{extra}/{server}/{label}/anon",
                                 url_for(bases[f"{extra}/{server}"], function, args))
                result = harness.run_pgbench(f"pgbench/{label}", cluster, db,
                                             literal_sql(function, args), clients=connections,
                                             duration=duration)
                runs.setdefault(f"pgbench/{label}", []).append(result)
                print(result.line(), flush=True)
    results = harness.median_results(runs)

    harness.heading("ratios (req/s)")
    ratios: dict[str, float] = {}
    for server in servers:
        for label in CALLS:
            for auth in ("anon", "jwt"):
                api = results[f"api/{server}/{label}/{auth}"]
                minimal = results[f"minimal/{server}/{label}"]
                pgbench = results[f"pgbench/{label}"]
                ratios[f"{server}/{label}/{auth}/api_minimal"] = api.rps / minimal.rps
                ratios[f"{server}/{label}/{auth}/api_pgbench"] = api.rps / pgbench.rps
                ratios[f"{server}/{label}/{auth}/p99_api_minimal"] = api.p99_ms / minimal.p99_ms
                print(f"{server:<8} {label:<5} {auth:<4}  api/minimal "
                      f"{harness.ratio(api.rps, minimal.rps):>6}   api/pgbench "
                      f"{harness.ratio(api.rps, pgbench.rps):>6}   api p99 {api.p99_ms:.1f} ms "
                      f"(/minimal's {harness.ratio(api.p99_ms, minimal.p99_ms)})", flush=True)
        for extra, label in (("api-limiter-off", "small"), ("baseline", "small"),
                             ("baseline", "mid")):
            key = f"{extra}/{server}/{label}/anon"
            if key in results:
                other, minimal = results[key], results[f"minimal/{server}/{label}"]
                ratios[f"{server}/{label}/anon/{extra}_minimal"] = other.rps / minimal.rps
                ratios[f"{server}/{label}/anon/p99_{extra}_minimal"] = (
                    other.p99_ms / minimal.p99_ms)
                print(f"{server:<8} {label:<5} anon  {extra}/minimal "
                      f"{harness.ratio(other.rps, minimal.rps):>6}   p99 {other.p99_ms:.1f} ms "
                      f"(/minimal's {harness.ratio(other.p99_ms, minimal.p99_ms)})", flush=True)
    if len(servers) == 2:
        harness.heading("granian / uvicorn (req/s)")
        for label in CALLS:
            for key in (f"{label}/anon", f"{label}/jwt"):
                g, u = results[f"api/granian/{key}"], results[f"api/uvicorn/{key}"]
                ratios[f"granian_uvicorn/api/{key}"] = g.rps / u.rps
                print(f"api     {key:<10} {harness.ratio(g.rps, u.rps):>6}  "
                      f"(p99 {g.p99_ms:.1f} vs {u.p99_ms:.1f} ms)")
            g, u = results[f"minimal/granian/{label}"], results[f"minimal/uvicorn/{label}"]
            ratios[f"granian_uvicorn/minimal/{label}"] = g.rps / u.rps
            print(f"minimal {label:<10} {harness.ratio(g.rps, u.rps):>6}  "
                  f"(p99 {g.p99_ms:.1f} vs {u.p99_ms:.1f} ms)")
    payload = {"db": db, "connections": connections, "duration": duration, "pool": pool,
               "rounds": rounds, "rate_limits": rate_limits, "limiter_off": limiter_off,
               "baseline": str(baseline) if baseline else None, "results": results,
               "runs": runs, "ratios": ratios}
    path = harness.save_result("rpc_throughput", payload)
    print(f"\nsaved to {path.relative_to(harness.REPO)}")
    return payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="RPC throughput and latency (wrk)")
    parser.add_argument("--server", choices=(*harness.SERVERS, "both"), default="both")
    parser.add_argument("--span", type=parse_span, default=parse_span("365d"),
                        help="dataset to run against (generated when missing; default 365d)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each run")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds; medians are reported (default 3)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--pool", type=int, default=10, help="PGRST_DB_POOL (default 10)")
    parser.add_argument("--rate-limits", default=harness.HUGE_RATE_LIMITS,
                        help="METRICS_RPC_RATE_LIMITS for the API (default: huge, never "
                             "rejects)")
    parser.add_argument("--limiter-off", action="store_true",
                        help="also load the small call on the API with rate limiting off")
    parser.add_argument("--baseline", type=Path,
                        help="also load the small call on the API of this checkout")
    args = parser.parse_args(argv)
    servers = list(harness.SERVERS) if args.server == "both" else [args.server]
    run(servers=servers, span=args.span, duration=args.duration, connections=args.connections,
        pool=args.pool, rate_limits=args.rate_limits, warmup=args.warmup,
        rounds=args.rounds, limiter_off=args.limiter_off, baseline=args.baseline)
    return harness.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
