"""Where rendered responses are kept: this process's memory (bounded in bytes, LRU) or
Redis (shared by every replica). An entry carries the data token it was computed under;
whether it may answer a request is decided by ``api.cache.response_cache``, so storage
only keeps entries until their TTL (and, in memory, within the byte bound).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

import msgspec

log = logging.getLogger("metrics_rpc")
ENTRY_OVERHEAD = 200  # bytes counted per entry besides its body and headers
REDIS_TIMEOUT = 0.5  # seconds a Redis call may take before the cache is bypassed
REDIS_MAX_ENTRY_BYTES = 4 * 1024 * 1024  # larger streamed answers are not kept in Redis


class CachedResponse(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A rendered GET 200: headers (with ETag, Cache-Control, Vary, Content-Length) and
    the body, with when it was stored (epoch seconds) and for how long. Not tracked by the
    garbage collector (it holds no cycles): a full cache does not slow down collections."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    stored_at: float
    ttl: float
    # the data token its query read in its own snapshot (None: unknown, never stored)
    token: int | None = None

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(n) + len(v) for n, v in self.headers) + ENTRY_OVERHEAD

    def fresh(self, now: float) -> bool:
        return now < self.stored_at + self.ttl


class Storage(Protocol):
    async def get(self, key: str) -> CachedResponse | None: ...

    async def put(self, key: str, entry: CachedResponse) -> None: ...

    def clear(self) -> None: ...

    def stats(self) -> tuple[int, int]: ...  # (bytes, entries) held in this process

    @property
    def max_entry_bytes(self) -> int: ...

    async def close(self) -> None: ...


class MemoryStorage:
    """LRU bounded by ``max_bytes``; an entry larger than a quarter of it is not kept."""

    def __init__(self, max_bytes: int, clock: Callable[[], float] = time.time,
                 on_evict: Callable[[int], None] | None = None) -> None:
        self.max_bytes = max_bytes
        self._clock = clock
        self._on_evict = on_evict
        self._entries: OrderedDict[str, CachedResponse] = OrderedDict()
        self._bytes = 0

    @property
    def max_entry_bytes(self) -> int:
        return self.max_bytes // 4

    async def get(self, key: str) -> CachedResponse | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if not entry.fresh(self._clock()):
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    async def put(self, key: str, entry: CachedResponse) -> None:
        size = entry.size
        if size > self.max_entry_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = entry
        self._bytes += size
        evicted = 0
        while self._bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)
            evicted += 1
        if evicted and self._on_evict is not None:
            self._on_evict(evicted)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.size

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def stats(self) -> tuple[int, int]:
        return self._bytes, len(self._entries)

    async def close(self) -> None:
        self.clear()


class RedisStorage:
    """Entries as msgpack under their key, expiring with their TTL. A Redis that is down
    or slow is a miss (the query runs), logged once per outage, never an error."""

    def __init__(self, uri: str) -> None:
        import redis.asyncio as redis_asyncio

        self._redis: Any = redis_asyncio.from_url(
            uri, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        self._down = False

    @property
    def max_entry_bytes(self) -> int:
        return REDIS_MAX_ENTRY_BYTES

    def _failed(self, exc: Exception) -> None:
        if not self._down:
            log.warning("response cache: Redis unavailable, bypassing it: %s", exc)
        self._down = True

    async def get(self, key: str) -> CachedResponse | None:
        try:
            raw = await self._redis.get(key)
        except Exception as exc:  # any Redis trouble is a miss
            self._failed(exc)
            return None
        self._down = False
        if raw is None:
            return None
        try:
            return msgspec.msgpack.decode(raw, type=CachedResponse)
        except msgspec.DecodeError:
            return None

    async def put(self, key: str, entry: CachedResponse) -> None:
        try:
            await self._redis.set(key, msgspec.msgpack.encode(entry),
                                  px=max(int(entry.ttl * 1000), 1))
        except Exception as exc:  # not stored: the next request recomputes
            self._failed(exc)

    def clear(self) -> None:
        """Nothing to drop: an entry with an old token is never served, and is replaced by
        the next answer for its key."""

    def stats(self) -> tuple[int, int]:
        return 0, 0

    async def close(self) -> None:
        await self._redis.aclose()


def storage_for(uri: str, max_bytes: int,
                on_evict: Callable[[int], None] | None = None) -> Storage:
    if uri.startswith(("redis://", "rediss://")):
        return RedisStorage(uri)
    return MemoryStorage(max_bytes, on_evict=on_evict)
