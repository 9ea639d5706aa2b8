"""api.ratelimit.LoopMemoryStorage: the moving window of ``memory://``, driven by an
injected clock (no sleeps), through ``limits``' own MovingWindowRateLimiter."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from limits import parse, parse_many
from limits.aio.strategies import MovingWindowRateLimiter

from api.ratelimit import LoopMemoryStorage, RateLimitConfig, RateLimiter

T = TypeVar("T")


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def test_a_hit_counts_for_exactly_its_window() -> None:
    clock = Clock()
    strategy = MovingWindowRateLimiter(LoopMemoryStorage(clock))
    item = parse("3/minute")

    async def scenario() -> list[bool]:
        out = []
        for step in (0, 10, 10, 10, 30, 0.001, 9.999, 0.002):  # t = 0 10 20 30 60 60.001 …
            clock.now += step
            out.append(await strategy.hit(item, "k"))
        return out

    # t=0, 10, 20 allowed; 30 and 60 (the hit at 0 still counts at exactly 60) refused;
    # 60.001: the hit at 0 has left; 70.000 refused (10, 20, 60.001 in the window); 70.002 ok
    assert run(scenario()) == [True, True, True, False, False, True, False, True]


def test_window_stats_name_the_oldest_hit() -> None:
    clock = Clock(500.0)
    strategy = MovingWindowRateLimiter(LoopMemoryStorage(clock))
    item = parse("2/minute")

    async def scenario() -> tuple[Any, Any]:
        empty = await strategy.get_window_stats(item, "k")
        await strategy.hit(item, "k")
        clock.now = 520.0
        await strategy.hit(item, "k")
        return empty, await strategy.get_window_stats(item, "k")

    empty, full = run(scenario())
    assert (empty.reset_time, empty.remaining) == (560.0, 2)
    assert (full.reset_time, full.remaining) == (560.0, 0)  # the hit at 500 leaves at 560


def test_idle_identities_are_forgotten() -> None:
    clock = Clock()
    storage = LoopMemoryStorage(clock)
    strategy = MovingWindowRateLimiter(storage)
    item = parse("5/second")

    async def scenario() -> int | None:
        for n in range(100):
            await strategy.hit(item, f"client-{n}")
        clock.now += LoopMemoryStorage.SWEEP_EVERY + 2  # every window has passed
        await strategy.hit(item, "client-new")  # a call sweeps
        return await storage.reset()  # how many keys were still held

    assert run(scenario()) == 1


def test_memory_storage_starts_no_tasks_and_follows_the_limiters_clock() -> None:
    clock = Clock()
    limiter = RateLimiter(
        RateLimitConfig(limits={"web_anon": tuple(parse_many("2/minute"))}), clock=clock
    )

    async def scenario() -> tuple[list[bool], int, int, int]:
        before = len(asyncio.all_tasks())
        allowed = [(await limiter.hit("web_anon", "ip:a")).allowed for _ in range(3)]
        during = len(asyncio.all_tasks())
        rejected = await limiter.hit("web_anon", "ip:a")
        clock.now += 60.001
        allowed.append((await limiter.hit("web_anon", "ip:a")).allowed)
        return allowed, before, during, rejected.reset_after

    allowed, before, during, reset_after = run(scenario())
    assert allowed == [True, True, False, True]
    assert during == before  # no expiry task, no thread hand-off per hit
    assert reset_after == 60
