"""The rate limiter's cost per request, in isolation: ``limits`` with memory storage.

    python -m bench.ratelimit_cost                # 20,000 hits per configuration
    python -m bench.ratelimit_cost --hits 50000

For each ``limits`` strategy (moving window, what ``api/ratelimit.py`` uses; sliding
window counter; fixed window), async memory storage, at ``60/minute`` and at the huge
benchmark limit ``10000000/second``: microseconds per request for ``hit`` +
``get_window_stats`` (what the API does per request, the headers need the stats) and for
``hit`` alone; plus the synchronous moving window and the API's own
``RateLimiter.hit``, which keeps the moving window in ``api.ratelimit.LoopMemoryStorage``
and calls it directly (``hit_window``, not through ``limits``' strategy), and
``RequestRateLimiter.decide`` with the response headers (what the pipeline does per
request, the client address included). One identity, as a load generator is to the API.

"yielding" rows let the event loop turn between hits (``await asyncio.sleep(0)``, its own
cost subtracted), as a server's loop does between requests: only then do the tasks a
storage schedules (``limits``' memory storage starts an expiry task per hit, which hands
each key's list to a thread) run and count. A tight loop of awaits never yields, so it
misses them. Reference: none in the same run is needed, the figure is a cost per call; compare
it with the API's time per request (``bench.rpc_throughput``).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from limits import parse
from limits.aio import strategies as aio_strategies
from limits.aio.storage import MemoryStorage as AsyncMemoryStorage
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from api.ratelimit import LoopMemoryStorage, RateLimitConfig, RateLimiter, RequestRateLimiter
from api.rpc import AuthResult
from bench import harness

LIMITS = ("60/minute", "10000000/second")
SCOPE = {"client": ("127.0.0.1", 50000), "headers": [(b"host", b"127.0.0.1")]}
ANONYMOUS = AuthResult.of("web_anon", {"role": "web_anon"}, None, True)
STRATEGIES = {
    "moving window": aio_strategies.MovingWindowRateLimiter,
    "sliding window counter": aio_strategies.SlidingWindowCounterRateLimiter,
    "fixed window": aio_strategies.FixedWindowRateLimiter,
}


async def _per_call(call: Callable[[], Awaitable[Any]], hits: int) -> float:
    for _ in range(min(hits, 1000)):  # warm-up (and a window with entries in it)
        await call()
    began = time.perf_counter()
    for _ in range(hits):
        await call()
    return (time.perf_counter() - began) / hits * 1e6


async def _per_call_yielding(call: Callable[[], Awaitable[Any]], hits: int) -> float:
    """Like ``_per_call``, but the event loop turns after every call (its cost subtracted)."""

    async def turn() -> None:
        await asyncio.sleep(0)

    async def call_and_turn() -> None:
        await call()
        await asyncio.sleep(0)

    loop_only = await _per_call(turn, hits)
    return await _per_call(call_and_turn, hits) - loop_only


async def measure(hits: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def report(label: str, limit: str, what: str, us: float) -> None:
        print(f"{label:<34} {limit:<16} {what:<28} {us:7.1f} µs", flush=True)
        out.append({"strategy": label, "limit": limit, "calls": what, "us": us})

    for limit in LIMITS:
        item = parse(limit)
        for label, cls in STRATEGIES.items():
            strategy = cls(AsyncMemoryStorage())

            async def both(s: Any = strategy, i: Any = item) -> None:
                await s.hit(i, "bench", "anon")
                await s.get_window_stats(i, "bench", "anon")

            async def hit(s: Any = strategy, i: Any = item) -> None:
                await s.hit(i, "bench", "hit-only")

            report(label, limit, "hit + get_window_stats", await _per_call(both, hits))
            report(label, limit, "hit", await _per_call(hit, hits))
            report(label, limit, "hit + stats, yielding", await _per_call_yielding(both, hits))
        loop_storage = aio_strategies.MovingWindowRateLimiter(LoopMemoryStorage())

        async def loop_both(s: Any = loop_storage, i: Any = item) -> None:
            await s.hit(i, "bench", "anon")
            await s.get_window_stats(i, "bench", "anon")

        report("moving window (LoopMemoryStorage)", limit, "hit + get_window_stats",
               await _per_call(loop_both, hits))
        report("moving window (LoopMemoryStorage)", limit, "hit + stats, yielding",
               await _per_call_yielding(loop_both, hits))
        sync = MovingWindowRateLimiter(MemoryStorage())

        async def sync_both(s: Any = sync, i: Any = item) -> None:
            s.hit(i, "bench", "sync")
            s.get_window_stats(i, "bench", "sync")

        report("moving window (sync storage)", limit, "hit + get_window_stats",
               await _per_call(sync_both, hits))
        limiter = RateLimiter(RateLimitConfig(limits={"web_anon": (item,)}))

        async def api_hit(r: RateLimiter = limiter) -> None:
            await r.hit("web_anon", "ip:127.0.0.1")

        report("api.ratelimit.RateLimiter", limit, "hit (whole path)",
               await _per_call(api_hit, hits))
        report("api.ratelimit.RateLimiter", limit, "hit (whole path), yielding",
               await _per_call_yielding(api_hit, hits))
        if item.amount < hits:
            continue  # it would reject (raise) from the limit on: only the huge limit
        # what the pipeline calls per request: the client address from the scope, the hit,
        # the response headers
        hook = RequestRateLimiter(RateLimiter(RateLimitConfig(limits={"web_anon": (item,)})))

        async def per_request(h: RequestRateLimiter = hook) -> None:
            (await h.decide(ANONYMOUS, SCOPE)).header_items()

        report("api.ratelimit.RequestRateLimiter", limit, "decide + headers (pipeline)",
               await _per_call(per_request, hits))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="rate limiter cost per request")
    parser.add_argument("--hits", type=int, default=20_000, help="hits per configuration")
    args = parser.parse_args(argv)
    harness.heading(f"Rate limiter cost: limits, memory storage, {args.hits:,} hits each")
    results = asyncio.run(measure(args.hits))
    path = harness.save_result("ratelimit_cost", {"hits": args.hits, "results": results})
    print(f"saved to {path.relative_to(harness.REPO)}")
    return harness.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
