"""The response cache, in one run (docs/CACHING.md):

    python -m bench.response_cache                 # 10 s per load run, 3 rounds
    python -m bench.response_cache --duration 3 --rounds 1

1. **Hot cached GET vs the minimal app**: ``GET /rpc/get_latest_fdv?p_schema=mainnet`` with
   the cache on (every request a hit), against ``bench/minimal_app.py`` running the same
   SQL per request. Goal: >= 3x its req/s, and a lower p99.
2. **Conditional requests**: the same GET with a matching ``If-None-Match`` (304, no
   body) against the full 200.
3. **Invalidation latency**: two API replicas on memory storage; a remote write to one,
   then, from its 204, a GET on the other until it shows the new value. Printed: how many
   first GETs already saw it (the contract says all), and the time to the new value.
4. **Overhead on a mostly-miss workload**: 90 % of the GETs are new keys (a filter with a
   random value), 10 % repeat five keys; cache on against cache off. Goal: <= 5 % fewer
   req/s with the cache on.

Its own small database (``bench_cache``: a few tokenomics samples, written through the
API): ``get_latest_fdv`` reads the latest state, whose size does not grow with history.
Configurations are interleaved over the rounds and medians reported (a shared machine).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from api.ingest.encode import V1_HEADERS, Series, write_request_v1
from bench import harness

HOT_PATH = "/rpc/get_latest_fdv?p_schema=mainnet"
PROBE_METRIC = "bench_cache_probe"
MOSTLY_MISS_LUA = """
counter = 0
math.randomseed(os.time())
request = function()
  counter = counter + 1
  local value
  if counter %% 10 == 0 then value = "repeat" .. (counter %% 5)
  else value = tostring(math.random(1, 2000000000)) end
  return wrk.format(nil, "%s&value=neq." .. value)
end
"""


def _write(base: str, token: str, series: list[Series]) -> float:
    """POST one remote write; the time its 204 arrived (perf_counter)."""
    headers = {**V1_HEADERS, "Authorization": f"Bearer {token}"}
    response = httpx.post(f"{base}/api/v1/write", content=write_request_v1(series),
                          headers=headers, timeout=30)
    arrived = time.perf_counter()
    if response.status_code != 204:
        raise RuntimeError(f"remote write → {response.status_code}: {response.text[:300]}")
    return arrived


def _seed(base: str, token: str, at: datetime) -> None:
    stamp = int(at.timestamp() * 1000)
    _write(base, token, [
        Series({"__name__": "manifest_tokenomics_total_supply", "manifest_tier": "mainnet",
                "supply": "123456789012345678901234567890", "job": "tokenomics"},
               [(stamp, 1.0)]),
        Series({"__name__": "talib_mfx_power_conversion", "job": "price"}, [(stamp, 0.5)]),
    ])


def _probe_value(client: httpx.Client, base: str) -> str | None:
    response = client.get(f"{base}/rpc/get_all_latest_mainnet_metrics")
    response.raise_for_status()
    for row in response.json():
        if row["table_name"] == PROBE_METRIC:
            return str(row["value"])
    return None


def _invalidation(writer: str, reader: str, token: str, start: datetime,
                  writes: int) -> dict[str, Any]:
    first_saw = 0
    to_visible: list[float] = []
    gets_needed: list[int] = []
    with httpx.Client(timeout=30) as client:
        for i in range(writes):
            _probe_value(client, reader)  # the reader holds the current answer in its cache
            value = str(1000 + i)
            stamp = int((start + timedelta(seconds=i)).timestamp() * 1000)
            acknowledged = _write(writer, token, [Series(
                {"__name__": PROBE_METRIC, "manifest_tier": "mainnet", "supply": value},
                [(stamp, 1.0)])])
            gets = 0
            while True:
                gets += 1
                if _probe_value(client, reader) == value:
                    break
                if gets > 10_000:
                    raise RuntimeError("the reader never saw the write")
            to_visible.append((time.perf_counter() - acknowledged) * 1000)
            gets_needed.append(gets)
            first_saw += gets == 1
        lag = client.get(f"{reader}/metrics").text
    lag_sum = _metric(lag, "metrics_rpc_cache_invalidation_lag_seconds_sum")
    lag_count = _metric(lag, "metrics_rpc_cache_invalidation_lag_seconds_count")
    return {
        "writes": writes, "first_get_saw_it": first_saw,
        "ms_204_to_visible_p50": statistics.median(to_visible),
        "ms_204_to_visible_max": max(to_visible),
        "notify_lag_ms_mean": (lag_sum / lag_count * 1000) if lag_count else float("nan"),
    }


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)}\s+(\S+)$", text, re.M)
    return float(match[1]) if match else 0.0


PARTS = ("hot", "conditional", "miss", "invalidation")


def run(*, duration: float, connections: int, pool: int, rounds: int, warmup: float,
        writes: int, parts: tuple[str, ...] = PARTS,
        rate_limits: str = harness.HUGE_RATE_LIMITS) -> dict[str, Any]:
    cluster = harness.bench_cluster()
    db = "bench_cache"
    harness.ensure_database(cluster, db, fresh=True)
    token = harness.writer_token("bench-cache")
    on = harness.api_env(cluster, db, pool=pool, rate_limits=rate_limits,
                         METRICS_RPC_CACHE="on")
    off = harness.api_env(cluster, db, pool=pool, rate_limits=rate_limits,
                          METRICS_RPC_CACHE="off")
    minimal = {**on, "BENCH_MINIMAL_DSN": cluster.dsn(db), "PGRST_DB_POOL": str(pool)}
    runs: dict[str, list[harness.LoadResult]] = {}
    harness.heading(f"response cache: {connections} connections, {duration:g} s per run, "
                    f"pool {pool}, {rounds} round(s), configurations interleaved, "
                    f"rate limits {rate_limits!r}")
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        _p, api_on = stack.enter_context(harness.running("api", "uvicorn", on, "/ready"))
        _p, api_on_2 = stack.enter_context(harness.running("api", "uvicorn", on, "/ready"))
        _p, api_off = stack.enter_context(harness.running("api", "uvicorn", off, "/ready"))
        _p, reference = stack.enter_context(harness.running("minimal", "uvicorn", minimal))
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        _seed(api_on, token, now - timedelta(minutes=5))
        status, body = harness.get(api_on + HOT_PATH)
        if status != 200 or body in (b"", b"[]"):
            raise RuntimeError(f"get_latest_fdv → {status}: {body[:200]!r}")
        etag = httpx.get(api_on + HOT_PATH).headers["etag"]
        script = Path(tmp) / "mostly_miss.lua"
        script.write_text(MOSTLY_MISS_LUA % HOT_PATH)

        def load(key: str, url: str, **kwargs: Any) -> None:
            if warmup:
                harness.run_wrk("warmup", url, connections=connections, duration=warmup,
                                **kwargs)
            result = harness.run_wrk(key, url, connections=connections, duration=duration,
                                     **kwargs)
            runs.setdefault(key, []).append(result)
            print(result.line(), flush=True)

        for round_no in range(1, rounds + 1):
            print(f"-- round {round_no}/{rounds}", flush=True)
            if "hot" in parts:
                load("hot/cached", api_on + HOT_PATH)
                load("hot/minimal", reference + HOT_PATH)
            if "conditional" in parts:
                load("conditional/304", api_on + HOT_PATH, headers={"If-None-Match": etag})
                load("conditional/200", api_on + HOT_PATH)
            if "miss" in parts:
                load("mostly_miss/cache_on", api_on + HOT_PATH, script=script)
                load("mostly_miss/cache_off", api_off + HOT_PATH, script=script)
        invalidation: dict[str, Any] = {}
        if "invalidation" in parts:
            harness.heading("invalidation: remote write on one replica → GET on the other")
            invalidation = _invalidation(api_on, api_on_2, token, now - timedelta(minutes=4),
                                         writes)
            for key, value in invalidation.items():
                print(f"{key:<26} {value:.2f}" if isinstance(value, float) else
                      f"{key:<26} {value}")
    results = harness.median_results(runs)
    harness.heading("ratios")
    ratios: dict[str, float] = {}
    if "hot" in parts:
        hot, ref = results["hot/cached"], results["hot/minimal"]
        ratios.update(hot_cached_over_minimal_rps=hot.rps / ref.rps,
                      hot_cached_p99_ms=hot.p99_ms, minimal_p99_ms=ref.p99_ms)
        print(f"hot cached GET / minimal app   {harness.ratio(hot.rps, ref.rps):>6}  "
              f"(goal >= 3x)   p99 {hot.p99_ms:.1f} vs {ref.p99_ms:.1f} ms (goal: lower)")
    if "conditional" in parts:
        not_modified, full = results["conditional/304"], results["conditional/200"]
        ratios["not_modified_over_full_rps"] = not_modified.rps / full.rps
        print(f"304 / full 200                 {harness.ratio(not_modified.rps, full.rps):>6}  "
              f"p99 {not_modified.p99_ms:.1f} vs {full.p99_ms:.1f} ms")
    if "miss" in parts:
        miss_on, miss_off = results["mostly_miss/cache_on"], results["mostly_miss/cache_off"]
        ratios["mostly_miss_on_over_off_rps"] = miss_on.rps / miss_off.rps
        print(f"mostly-miss, cache on / off    {harness.ratio(miss_on.rps, miss_off.rps):>6}  "
              f"(goal >= 0.95x)")
    harness.save_result("response_cache", {"results": results, "ratios": ratios,
                                           "invalidation": invalidation,
                                           "duration": duration, "connections": connections,
                                           "rate_limits": rate_limits,
                                           "pool": pool, "rounds": rounds})
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per load run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--pool", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--writes", type=int, default=50, help="writes for the invalidation run")
    parser.add_argument("--rate-limits", default=harness.HUGE_RATE_LIMITS,
                        help="METRICS_RPC_RATE_LIMITS of the API (default: huge limits, so the "
                             "limiter runs but never rejects; `off` to leave it out)")
    parser.add_argument("--only", choices=PARTS, action="append",
                        help="run only this part (repeatable; default all)")
    args = parser.parse_args(argv)
    run(duration=args.duration, connections=args.connections, pool=args.pool,
        rounds=args.rounds, warmup=args.warmup, writes=args.writes,
        parts=tuple(args.only or PARTS), rate_limits=args.rate_limits)
    return harness.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
