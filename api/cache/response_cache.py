"""The server-side response cache: rendered GET/HEAD 200s of non-volatile functions that
declare a cache policy, keyed by the plan and the role, checked against the data token.

The key is built from the ``CallPlan`` (function and its signature, bound arguments,
filters, output columns, order, page, count, media type, pre-request), the profile, the
``Prefer`` preferences, the role, the JWT claims of an authenticated request (nothing for
the anonymous role). Equivalent URLs give equal plans, so they share an entry.

Each answer carries the data token its own query read in its own snapshot, on whichever
server ran it (the primary or a read replica; ``Statement.data_token``): exactly the
version of the data it holds. A stored or shared answer serves a request only when a
token read on the primary *after the request arrived* (``DataVersions.token``) equals
it: the answer then shows everything committed before the request. An answer a lagging
replica computed carries its older token and is never served from the cache while the
primary is ahead.

Single flight: concurrent misses of one key run one query; the others wait for it and
take its answer when its token is theirs (``fetch``; ``stream`` for streamed reads, with
``StreamKeeper``).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import msgspec

from api.cache.policy import CachePolicy, caching_headers, policy_of
from api.cache.storage import CachedResponse, Storage, storage_for
from api.cache.versions import DataVersions
from api.config import Settings
from api.observability import CacheEvicted, CacheLookup, Observability
from api.rpc.auth import AuthResult
from api.rpc.parse import RpcRequest
from api.rpc.plan import CallPlan

KEY_PREFIX = "metrics_rpc:response:v2:"  # v2: tokens are metrics_rpc_cache.data_token hashes
PARTS_KEPT = 4096
MAX_STREAM_KEPT = 1024 * 1024  # bytes of a streamed answer buffered to keep it
TOO_LARGE_KEPT = 4096  # keys of streamed answers found too large to keep, remembered
FLIGHTS_WAITED = 2  # a request waits for at most this many flights before running its own
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


class _Flight:
    """A query in progress for one key; its followers wait for ``answer``: the entry, or
    ``None`` when there is nothing to share (the query failed, or its streamed answer is
    too large to keep)."""

    def __init__(self) -> None:
        self.answer: asyncio.Future[CachedResponse | None] = (
            asyncio.get_running_loop().create_future())


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
        # streamed answers found too large to keep: no flight for them (nobody waits)
        self._too_large: OrderedDict[str, None] = OrderedDict()
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

    @property
    def usable(self) -> bool:
        """Can answers be checked now? Else every request bypasses the cache (and its
        query need not read the data token)."""
        return self.versions.connected

    async def fetch(
        self, plan: CallPlan, request: RpcRequest, auth: AuthResult, policy: CachePolicy,
        compute: Callable[[], Awaitable[CachedResponse]],
    ) -> tuple[CachedResponse, Outcome]:
        """The stored or shared answer when it is as new as the data at this call, else
        ``compute()``'s (stored for the next request, and shared with the requests that
        arrive while it runs). ``compute`` returns the entry with the data token of its
        query's snapshot."""
        if not self.versions.connected:  # data version unknown: never risk a stale answer
            self._observability.emit(CacheLookup("bypass"))
            return await compute(), "bypass"
        key = cache_key(plan, request, auth, self._request_part(plan, request))
        found, outcome = await self._find(key)
        self._observability.emit(CacheLookup(outcome))
        if found is not None:
            return found, "hit"
        if outcome == "bypass":
            return await compute(), "bypass"
        return await self._lead(key, compute), "miss"

    async def _find(self, key: str) -> tuple[CachedResponse | None, Outcome]:
        """A stored or shared answer valid for a request arriving now ("hit"), else
        ``None`` with "miss" (run the query) or "bypass" (the token cannot be read).

        A key with no entry and no flight is a miss without asking for a token at all, so
        mostly-miss traffic pays no extra round trip. Otherwise the primary's token, read
        after this call, must equal the answer's. A flight whose answer has another token
        (a write came between, or it ran on a lagging replica) is followed by at most one
        more (the next leader's) before this request runs its own query."""
        flight = self._flights.get(key)
        if flight is None and await self.storage.get(key) is None:
            return None, "miss"
        token = await self.versions.token()
        if token is None:
            return None, "bypass"
        flight = self._flights.get(key)
        if flight is None:
            stored = await self.storage.get(key)
            if stored is not None and stored.token == token and stored.fresh(self._clock()):
                return stored, "hit"
            return None, "miss"
        for _ in range(FLIGHTS_WAITED):
            shared = await asyncio.shield(flight.answer)
            if shared is not None and shared.token == token:
                return shared, "hit"
            following = self._flights.get(key)
            if following is None or following is flight:
                break
            flight = following
        return None, "miss"

    def _take_off(self, key: str) -> _Flight | None:
        """A new flight for ``key``, unless one is running (then ``None``: this request
        runs its own query, shared with nobody)."""
        current = self._flights.get(key)
        if current is not None and not current.answer.done():
            return None
        flight = self._flights[key] = _Flight()
        return flight

    def _land(self, key: str, flight: _Flight | None, entry: CachedResponse | None) -> None:
        """Hand ``entry`` to the flight's followers (``None``: each runs its own query)."""
        if flight is None:
            return
        if not flight.answer.done():
            flight.answer.set_result(entry)
        if self._flights.get(key) is flight:
            del self._flights[key]

    async def _lead(self, key: str,
                    compute: Callable[[], Awaitable[CachedResponse]]) -> CachedResponse:
        """Run the query for ``key``; requests that arrive meanwhile may share its answer."""
        flight = self._take_off(key)
        try:
            entry = await compute()
        except BaseException:
            self._land(key, flight, None)  # the followers run their own
            raise
        if flight is not None and not flight.answer.done():
            flight.answer.set_result(entry)  # before storing: followers need not wait for it
        try:
            await self._store(key, entry)
        finally:
            self._land(key, flight, entry)
        return entry

    async def _store(self, key: str, entry: CachedResponse) -> None:
        if entry.token is not None and entry.status == 200 and entry.ttl > 0:
            await self.storage.put(key, entry)

    # --- streamed reads ---------------------------------------------------------------------

    @property
    def max_entry_bytes(self) -> int:
        """The largest streamed body kept: a stream is buffered up to this much while it
        is sent, so the API's memory per stream stays small (large results stream on)."""
        return min(self.storage.max_entry_bytes, MAX_STREAM_KEPT)

    async def stream(
        self, plan: CallPlan, request: RpcRequest, auth: AuthResult, policy: CachePolicy,
    ) -> tuple[CachedResponse | None, StreamKeeper | None]:
        """For a streamed read: the stored or shared answer when it is valid now (as
        ``fetch`` decides; sent whole), else a keeper for a GET's own stream (``None``
        for a HEAD or a bypass: streamed and not kept).

        Concurrent misses share one query as ``fetch``'s do: the first streams, the others
        wait for its whole answer. Only answers small enough to keep are shared: once the
        leader's body grows past ``max_entry_bytes`` its followers are released at once to
        stream their own, and the key is remembered as too large, so later misses of it
        stream at once instead of waiting for a leader."""
        if not self.versions.connected:
            self._observability.emit(CacheLookup("bypass"))
            return None, None
        key = cache_key(plan, request, auth, self._request_part(plan, request))
        found, outcome = await self._find(key)
        self._observability.emit(CacheLookup(outcome))
        if found is not None or outcome == "bypass" or request.method != "GET":
            return found, None
        flight = None if key in self._too_large else self._take_off(key)
        return None, StreamKeeper(self, key, flight, self.max_entry_bytes, policy,
                                  authenticated=not auth.anonymous)

    def _found_too_large(self, key: str) -> None:
        self._too_large[key] = None
        self._too_large.move_to_end(key)
        while len(self._too_large) > TOO_LARGE_KEPT:
            self._too_large.popitem(last=False)

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
              ttl: float, token: int | None) -> CachedResponse:
        return CachedResponse(status, tuple(headers), body, self._clock(), ttl, token)

    async def run(self) -> None:
        await self.versions.run()

    async def close(self) -> None:
        await self.versions.close()
        await self.storage.close()


class StreamKeeper:
    """Keeps a streamed GET miss: collects its body while it stays within ``max_bytes``
    (``add``, called with each chunk before it is sent), then stores it and hands it to the
    requests waiting on its flight (``finish``). ``abandon`` (always called at the end)
    releases the followers of a stream that did not finish: they run their own."""

    def __init__(self, cache: ResponseCache, key: str, flight: _Flight | None,
                 max_bytes: int, policy: CachePolicy, *, authenticated: bool) -> None:
        self._cache = cache
        self._key = key
        self._flight = flight
        self._max_bytes = max_bytes
        self._policy = policy
        self._authenticated = authenticated
        self._chunks: list[bytes] | None = []
        self._size = 0

    def add(self, chunk: bytes) -> None:
        if self._chunks is None:
            return
        self._size += len(chunk)
        if self._size <= self._max_bytes:
            self._chunks.append(chunk)
            return
        self._chunks = None  # too large to keep: nobody waits for it
        self._cache._found_too_large(self._key)
        self.abandon()

    async def finish(self, status: int, headers: list[tuple[str, str]],
                     token: int | None) -> None:
        """The stream ended with ``status`` and the response's own ``headers``; ``token``
        is the data token of its snapshot."""
        if self._chunks is None or status != 200 or token is None:
            self.abandon()
            return
        body = b"".join(self._chunks)
        self._chunks = None
        headers = caching_headers([*headers, ("content-length", str(len(body)))], body,
                                  self._policy, authenticated=self._authenticated)
        cache = self._cache
        entry = cache.entry(status, headers, body, self._policy.server_ttl, token)
        cache._too_large.pop(self._key, None)
        flight = self._flight
        if flight is not None and not flight.answer.done():
            flight.answer.set_result(entry)
        try:
            await cache._store(self._key, entry)
        finally:
            self.abandon()

    def abandon(self) -> None:
        self._cache._land(self._key, self._flight, None)
        self._flight = None
