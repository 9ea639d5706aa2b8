"""The server-side response cache: rendered GET/HEAD 200s of non-volatile functions that
declare a cache policy, keyed by the plan, the role and the data version.

The key is built from the ``CallPlan`` (function and its signature, bound arguments,
filters, output columns, order, page, count, media type, pre-request), the profile, the
``Prefer`` preferences, the role, the JWT claims of an authenticated request (nothing for
the anonymous role). Equivalent URLs give equal plans, so they share an entry. Each entry
carries the data token (``DataVersions``) read before its query: it answers only a request
whose own fresh token equals it, so no entry computed before a write is read after it.
Concurrent misses of one key run one query (single flight).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import msgspec

from api.cache.policy import CachePolicy, policy_of
from api.cache.storage import CachedResponse, Storage, storage_for
from api.cache.versions import DataVersions
from api.config import Settings
from api.observability import CacheEvicted, CacheLookup, Observability
from api.rpc.auth import AuthResult
from api.rpc.parse import RpcRequest
from api.rpc.plan import CallPlan

KEY_PREFIX = "metrics_rpc:response:v1:"
PARTS_KEPT = 4096
MAX_STREAM_KEPT = 1024 * 1024  # bytes of a streamed answer buffered to keep it
Outcome = Literal["hit", "miss", "bypass"]


def request_part(plan: CallPlan, request: RpcRequest) -> bytes:
    """What the response depends on of the request, encoded. Only values that encode the
    same in every process go in (no sets), so replicas share keys in Redis."""
    function = plan.function
    parts: tuple[Any, ...] = (
        function.schema, function.name, tuple(arg.type for arg in function.args),
        plan.args, plan.arguments, plan.filters,
        tuple((c.name, c.column.name, c.cast) for c in plan.columns),
        plan.order, plan.page, plan.count, plan.media, plan.pre_request,
        request.schema, request.preferences,
    )
    return msgspec.msgpack.encode(parts)


def cache_key(plan: CallPlan, request: RpcRequest, auth: AuthResult,
              encoded_request: bytes | None = None) -> str:
    """The storage key: a hash of the request part, the role and the claims of an
    authenticated role (the data token is in the entry, see ``ResponseCache.fetch``)."""
    claims = b"" if auth.anonymous else msgspec.json.encode(auth.claims, order="sorted")
    digest = hashlib.blake2b(encoded_request or request_part(plan, request), digest_size=20)
    digest.update(msgspec.msgpack.encode((auth.role, claims)))
    return KEY_PREFIX + digest.hexdigest()


class _Flight(msgspec.Struct):
    """A query in progress for one key: the data token read before it started, and the
    answer its followers wait for."""

    token: int | None
    answer: asyncio.Future[CachedResponse]


class ResponseCache:
    """Storage + data versions + single flight. ``fetch`` returns the response and how
    it was obtained; ``compute`` runs the query (only for a miss)."""

    def __init__(self, storage: Storage, versions: DataVersions, observability: Observability,
                 clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.versions = versions
        self._observability = observability
        self._clock = clock
        self._flights: dict[str, _Flight] = {}
        # request parts of recent plans, by plan identity (the pipeline reuses GET plans)
        self._parts: dict[int, tuple[CallPlan, RpcRequest, bytes]] = {}
        observability.watch_cache(storage.stats)

    @classmethod
    def from_settings(cls, settings: Settings, observability: Observability) -> ResponseCache:
        def evicted(entries: int) -> None:
            observability.emit(CacheEvicted(entries))

        storage = storage_for(settings.cache_storage, settings.cache_bytes, evicted)
        versions = DataVersions(settings.db_uri, lambda _domains: storage.clear(),
                                observability.emit)
        return cls(storage, versions, observability)

    @staticmethod
    def policy_for(plan: CallPlan, request: RpcRequest) -> CachePolicy | None:
        """The policy under which this request's response may be stored, else ``None``."""
        policy = policy_of(plan.function.cache_control)
        if (policy is None or policy.server_ttl <= 0 or request.method not in ("GET", "HEAD")
                or plan.function.volatility == "volatile"
                # a pre-request function may turn requests away by header or address:
                # it must run on every request, so nothing is served from the cache
                or plan.pre_request is not None):
            return None
        return policy

    async def fetch(
        self, plan: CallPlan, request: RpcRequest, auth: AuthResult, policy: CachePolicy,
        compute: Callable[[], Awaitable[CachedResponse]],
    ) -> tuple[CachedResponse, Outcome]:
        """The stored or shared answer when it is as new as the data at this call, else
        ``compute()``'s (stored for the next request).

        Entries and flights carry the data token read *before* their query started. One
        may answer this request only if a token read that started after this call equals
        it: no write committed between that query's start and this request. A key with no
        entry and no flight is a miss without asking for a token at all, so mostly-miss
        traffic pays no extra round trip.
        """
        if not self.versions.connected:  # data version unknown: never risk a stale answer
            self._observability.emit(CacheLookup("bypass"))
            return await compute(), "bypass"
        key = cache_key(plan, request, auth, self._request_part(plan, request))
        if key in self._flights or await self.storage.get(key) is not None:
            token = await self.versions.token()
            if token is None:
                self._observability.emit(CacheLookup("bypass"))
                return await compute(), "bypass"
            flight = self._flights.get(key)
            if flight is not None and flight.token == token:
                shared = await asyncio.shield(flight.answer)
                self._observability.emit(CacheLookup("hit"))
                return shared, "hit"
            stored = await self.storage.get(key)
            if stored is not None and stored.token == token and stored.fresh(self._clock()):
                self._observability.emit(CacheLookup("hit"))
                return stored, "hit"
        return await self._lead(key, compute), "miss"

    @property
    def max_entry_bytes(self) -> int:
        """The largest streamed body kept: a stream is buffered up to this much while it
        is sent, so the API's memory per stream stays small (large results stream on)."""
        return min(self.storage.max_entry_bytes, MAX_STREAM_KEPT)

    async def kept(self, plan: CallPlan, request: RpcRequest,
                   auth: AuthResult) -> tuple[str | None, CachedResponse | None]:
        """For a streamed read (no single flight: each miss streams its own answer): its
        key and the kept answer when it is valid now (as ``fetch`` decides), else
        ``None``; the key is ``None`` when nothing can be kept (data version unknown)."""
        if not self.versions.connected:
            self._observability.emit(CacheLookup("bypass"))
            return None, None
        key = cache_key(plan, request, auth, self._request_part(plan, request))
        stored = await self.storage.get(key)
        if stored is not None:
            token = await self.versions.token()
            if token is not None and stored.token == token and stored.fresh(self._clock()):
                self._observability.emit(CacheLookup("hit"))
                return key, stored
        self._observability.emit(CacheLookup("miss"))
        return key, None

    async def keep(self, key: str, entry: CachedResponse, token: int | None) -> None:
        """Store a streamed read's answer, under the token read before its query."""
        if token is not None and entry.status == 200 and entry.ttl > 0:
            await self.storage.put(key, msgspec.structs.replace(entry, token=token))

    async def _lead(self, key: str,
                    compute: Callable[[], Awaitable[CachedResponse]]) -> CachedResponse:
        """Run the query for ``key``; requests that arrive meanwhile may share its answer."""
        token = self.versions.last_token  # read before the query starts: it is at most as new
        flight = _Flight(token, asyncio.get_running_loop().create_future())
        self._flights[key] = flight
        try:
            entry = await compute()
        except BaseException as exc:
            answer = flight.answer
            answer.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            answer.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]
        flight.answer.set_result(entry)
        self._observability.emit(CacheLookup("miss"))
        if token is not None and entry.status == 200 and entry.ttl > 0:
            await self.storage.put(key, msgspec.structs.replace(entry, token=token))
        return entry

    def _request_part(self, plan: CallPlan, request: RpcRequest) -> bytes:
        known = self._parts.get(id(plan))
        if known is not None and known[0] is plan and known[1] is request:
            return known[2]
        if len(self._parts) >= PARTS_KEPT:
            self._parts.clear()
        part = request_part(plan, request)
        self._parts[id(plan)] = (plan, request, part)
        return part

    def entry(self, status: int, headers: list[tuple[str, str]], body: bytes,
              ttl: float) -> CachedResponse:
        return CachedResponse(status, tuple(headers), body, self._clock(), ttl)

    async def run(self) -> None:
        await self.versions.run()

    async def close(self) -> None:
        await self.versions.close()
        await self.storage.close()
