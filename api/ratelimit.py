"""Rate limiting with the ``limits`` library (async API), per role and per client.

- Strategy: moving window. It is exact (every hit is a timestamp in the window), so two
  replicas sharing one Redis enforce exactly one budget; at our limits (hundreds a minute)
  its memory cost is small.
- Storage: ``redis://`` through ``limits``' own storage and strategy; ``memory://``
  through ``LoopMemoryStorage`` below, the same moving window kept for one event loop and
  called directly, one synchronous call per hit (``limits``' strategy built a key string
  and made a second call for the window's stats, most of the limiter's time). ``limits``'
  async memory storage starts an expiry task on every hit, and that task hands every
  key's list to a thread (``asyncio.to_thread``): under load ~9 % of the server's samples
  were in that thread pool (``docs/PERFORMANCE.md``, section 1). A hit costs O(1)
  (amortised) time; a key holds at most its limit's number of hit times.
- Identity: the anonymous role is limited per client IP, any other role per JWT ``sub``
  (a token without one gets ``tok:<fingerprint>`` from auth), each within that role's own budget.
  ``/api/v1/write`` has its own ``ingest`` budget, per ``sub`` as well.
- Storage errors never become a 500: the decision follows
  ``METRICS_RPC_RATE_LIMIT_FAIL_OPEN`` (allow, or 503), with one log line when the storage
  goes away and one when it comes back; while it is down we do not wait on it again for
  ``RETRY_STORAGE_AFTER`` seconds.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any, Literal, cast

import msgspec
from limits import RateLimitItem, parse_many
from limits.aio.storage import Storage as AsyncStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import ConfigurationError, StorageError
from limits.storage import storage_from_string
from prometheus_client import CollectorRegistry, Counter

from api.config import ConfigError, RateLimits, Settings
from api.errors import ApiError, RateLimited, RateLimitUnavailable
from api.rpc import AuthResult

log = logging.getLogger("metrics_rpc.ratelimit")

INGEST_KEY = "ingest"  # METRICS_RPC_RATE_LIMITS key for /api/v1/write
# Remote write gets its own budget even when unconfigured, so a Prometheus pushing ~2,000
# samples a request (~200k samples/s at this limit) never eats the writer's RPC budget.
DEFAULT_INGEST_LIMIT = "6000/minute"
DEFAULT_KEY = "default"  # limit for roles not listed (none when absent)
STORAGE_TIMEOUT = 0.5  # seconds one storage call may take before it counts as down
RETRY_STORAGE_AFTER = 2.0  # seconds we skip a failed storage before trying it again

# what a storage that is down or slow raises (a bug here is not one: it is raised and logged)
_STORAGE_ERRORS = (StorageError, TimeoutError, OSError)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


# --- configuration ------------------------------------------------------------------


class RateLimitConfig(msgspec.Struct, frozen=True):
    """``METRICS_RPC_RATE_LIMITS`` parsed: budget name (a role, ``ingest``, ``default``) →
    its limits; an empty mapping means rate limiting is off, an empty tuple a role without
    limit."""

    limits: dict[str, tuple[RateLimitItem, ...]]
    storage_uri: str = "memory://"
    fail_open: bool = True
    trusted_proxies: tuple[IpNetwork, ...] = ()  # whose X-Forwarded-For is believed

    @property
    def enabled(self) -> bool:
        return bool(self.limits)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimitConfig:
        limits = settings.rate_limits.as_dict()
        if limits:
            limits.setdefault(INGEST_KEY, tuple(parse_many(DEFAULT_INGEST_LIMIT)))
        return cls(
            limits=limits,
            storage_uri=settings.rate_limit_storage,
            fail_open=settings.rate_limit_fail_open,
            trusted_proxies=parse_trusted_proxies(settings.trusted_proxies),
        )


def parse_rate_limits(value: str | RateLimits) -> dict[str, tuple[RateLimitItem, ...]]:
    """``METRICS_RPC_RATE_LIMITS`` as budget → limits (parsed by ``RateLimits.parse``)."""
    if isinstance(value, RateLimits):
        return value.as_dict()
    try:
        return RateLimits.parse(value).as_dict()
    except ValueError as exc:
        raise ConfigError(f"METRICS_RPC_RATE_LIMITS: {exc}") from None


# --- client identity ----------------------------------------------------------------


def parse_trusted_proxies(entries: Iterable[str]) -> tuple[IpNetwork, ...]:
    """``METRICS_RPC_TRUSTED_PROXIES`` entries (addresses or CIDRs) as networks."""
    networks: list[IpNetwork] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ConfigError(f"METRICS_RPC_TRUSTED_PROXIES: invalid address {entry!r}") from exc
    return tuple(networks)


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[::1]:1234"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "1.2.3.4:1234"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_ip(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[IpNetwork]) -> str:
    """The client address for rate limiting.

    ``X-Forwarded-For`` counts only when the connecting peer is a trusted proxy; then the
    chain is read from the right and the first address that is not a trusted proxy is the
    client (so a client cannot pick its identity by sending the header itself).
    """
    peer_ip = _parse_ip(peer) if peer else None
    if peer_ip is None:
        return peer or "unknown"

    def is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in network for network in trusted)

    if not is_trusted(peer_ip):
        return str(peer_ip)
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    current = peer_ip
    for hop in reversed(hops):
        address = _parse_ip(hop)
        if address is None:
            break  # garbage in the chain: stop at the last hop we could trust
        current = address
        if not is_trusted(address):
            break
    return str(current)


# --- decisions ----------------------------------------------------------------------


class RateLimitDecision(msgspec.Struct, frozen=True):
    """What one hit decided, with the values of the response headers."""

    allowed: bool
    limit: int = 0  # requests per window of the most restrictive limit (0: not limited)
    remaining: int = 0
    reset_after: int = 0  # seconds until the window has room again
    window: int = 0  # seconds of that limit's window
    storage_unavailable: bool = False  # decided without the storage (fail open or closed)

    @property
    def retry_after(self) -> int:
        return max(self.reset_after, 1)

    def header_items(self) -> list[tuple[str, str]]:
        """``RateLimit-*`` (IETF draft) for every limited response, plus ``Retry-After``
        when rejected; lower-case names, as the pipeline sends them."""
        out: list[tuple[str, str]] = []
        if self.limit:
            limit = str(self.limit)
            out += [("ratelimit-limit", limit), ("ratelimit-remaining", str(self.remaining)),
                    ("ratelimit-reset", str(self.reset_after)),
                    ("ratelimit-policy", f"{limit};w={self.window}")]
        if not self.allowed:
            out.append(("retry-after", str(self.retry_after)))
        return out

    def headers(self) -> dict[str, str]:
        """``header_items`` by their canonical names (``RateLimit-Limit``, …)."""
        return {_CANONICAL[name]: value for name, value in self.header_items()}


_CANONICAL = {"ratelimit-limit": "RateLimit-Limit", "ratelimit-remaining": "RateLimit-Remaining",
              "ratelimit-reset": "RateLimit-Reset", "ratelimit-policy": "RateLimit-Policy",
              "retry-after": "Retry-After"}
UNLIMITED = RateLimitDecision(allowed=True)


def rejection(decision: RateLimitDecision) -> ApiError:
    """The error response for a decision that did not allow the request."""
    if decision.storage_unavailable:
        return RateLimitUnavailable(decision.retry_after)
    return RateLimited(decision.retry_after, decision.headers())


Outcome = Literal["allowed", "rejected", "storage_unavailable"]


def decision_counter(registry: CollectorRegistry) -> Callable[[str, Outcome], None]:
    """An ``on_decision`` callback counting decisions in /metrics, rejections included."""
    counter = Counter(
        "metrics_rpc_rate_limit_decisions",
        "Rate limit decisions by budget and outcome (allowed, rejected, storage_unavailable)",
        ["budget", "outcome"],
        registry=registry,
    )

    children: dict[tuple[str, str], Any] = {}  # labels() takes a lock: once per pair

    def record(budget: str, outcome: Outcome) -> None:
        child = children.get((budget, outcome))
        if child is None:
            child = children[(budget, outcome)] = counter.labels(budget, outcome)
        child.inc()

    return record


class LoopMemoryStorage(AsyncStorage):
    """The moving window in this process, for one event loop (``memory://``).

    Per key, the times of the hits still in the window, oldest first. Nothing here awaits,
    so no lock is needed; expired hits are dropped when their key is next used, and idle
    keys by a sweep at most every ``SWEEP_EVERY`` seconds, inside a call (no task, no
    thread). Times come from ``clock`` (the limiter's), so tests can drive the window.
    Only the moving window is supported; the counter methods of ``limits``' storage
    interface work but are not used. ``RateLimiter`` calls ``hit_window`` directly (one
    call per hit and its window, its own keys), not through ``limits``' strategy, whose
    key strings and second call were most of the limiter's time.
    """

    STORAGE_SCHEME = None  # built directly, never from a URI
    SWEEP_EVERY = 10.0

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self._clock = clock
        self._hits: dict[Hashable, deque[float]] = {}
        self._longest = 0.0  # the longest window seen: what a sweep may drop
        self._next_sweep = clock() + self.SWEEP_EVERY
        self._counters: dict[str, tuple[int, float]] = {}  # key → (count, expires at)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def _window(self, key: Hashable, expiry: int, now: float) -> deque[float]:
        if now >= self._next_sweep:
            self._sweep(now)
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        while hits and hits[0] < now - expiry:  # as limits: a hit at now - expiry still counts
            hits.popleft()
        return hits

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self.SWEEP_EVERY
        for key in [k for k, hits in self._hits.items()
                    if not hits or hits[-1] < now - self._longest]:
            del self._hits[key]
        for key in [k for k, (_, expires) in self._counters.items() if expires <= now]:
            del self._counters[key]

    def hit_window(self, key: Hashable, limit: int, expiry: int) -> tuple[bool, float, int]:
        """One hit, as ``acquire_entry``, and the window after it, as ``get_moving_window``:
        (allowed, time of the oldest hit in the window, hits in the window)."""
        now = self._clock()
        if expiry > self._longest:
            self._longest = float(expiry)
        hits = self._window(key, expiry, now)
        allowed = len(hits) < limit
        if allowed:
            hits.append(now)
        return allowed, (hits[0] if hits else now), len(hits)

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        now = self._clock()
        self._longest = max(self._longest, float(expiry))
        hits = self._window(key, expiry, now)
        if len(hits) + amount > limit:
            return False
        hits.extend([now] * amount)
        return True

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(time of the oldest hit in the window, hits in the window); (now, 0) when empty."""
        now = self._clock()
        hits = self._window(key, expiry, now)
        if not hits:
            return now, 0
        return hits[0], len(hits)

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = self._clock()
        count, expires = self._counters.get(key, (0, now + expiry))
        if expires <= now:
            count, expires = 0, now + expiry
        self._counters[key] = (count + amount, expires)
        return count + amount

    async def get(self, key: str) -> int:
        count, expires = self._counters.get(key, (0, 0.0))
        return count if expires > self._clock() else 0

    async def get_expiry(self, key: str) -> float:
        return self._counters.get(key, (0, self._clock()))[1]

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        count = len(self._hits) + len(self._counters)
        self._hits.clear()
        self._counters.clear()
        return count

    async def clear(self, key: str) -> None:
        self._hits.pop(key, None)
        self._counters.pop(key, None)


class _Limit(msgspec.Struct, frozen=True):
    """One limit of a budget with what every hit needs, computed once."""

    item: RateLimitItem
    amount: int
    expiry: int  # seconds of its window


class RateLimiter:
    """Counts hits per (budget, identity) in the configured storage."""

    def __init__(
        self,
        config: RateLimitConfig,
        *,
        on_decision: Callable[[str, Outcome], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._items = config.limits
        self._limits = {budget: tuple(_Limit(item, item.amount, item.get_expiry())
                                      for item in items)
                        for budget, items in config.limits.items()}
        uri = config.storage_uri
        if not uri.startswith("async+"):
            uri = f"async+{uri}"
        # storage failures come out as limits' StorageError, whatever the backend
        options: dict[str, float | str | bool] = {"wrap_exceptions": True}
        # Memory storage cannot hang; a timeout there would only cost a timer per hit.
        self._timeout = None if uri.startswith("async+memory") else STORAGE_TIMEOUT * 2
        if "redis" in uri:
            options.update(connect_timeout=STORAGE_TIMEOUT, stream_timeout=STORAGE_TIMEOUT)
        # memory://: hits go straight to the storage (``LoopMemoryStorage.hit_window``)
        self._memory: LoopMemoryStorage | None = None
        try:
            if uri.startswith("async+memory"):
                self._memory = LoopMemoryStorage(clock)
                self._storage: AsyncStorage = self._memory
            else:
                self._storage = cast(AsyncStorage, storage_from_string(uri, **options))
            self._strategy = MovingWindowRateLimiter(self._storage)
        except (ConfigurationError, NotImplementedError, ValueError) as exc:
            raise ConfigError(
                f"METRICS_RPC_RATE_LIMIT_STORAGE: unusable storage {config.storage_uri!r}: {exc}"
            ) from exc
        self.on_decision = on_decision
        self._clock = clock
        self._down_until = 0.0  # while in the future, we decide without the storage

    def budget_for(self, role: str, *, ingest: bool = False) -> str | None:
        """The budget name that applies, or None when unlimited."""
        if ingest and INGEST_KEY in self._items:
            return INGEST_KEY
        if role in self._items:
            return role
        return DEFAULT_KEY if DEFAULT_KEY in self._items else None

    async def hit_request(
        self,
        *,
        role: str,
        anonymous: bool,
        sub: str | None,
        client_address: str,
        ingest: bool = False,
    ) -> RateLimitDecision:
        """One request: anonymous → per client IP; authenticated → per ``sub`` (or role)."""
        identity = f"ip:{client_address}" if anonymous else f"sub:{sub}" if sub else "no-sub"
        return await self.hit(role, identity, ingest=ingest)

    async def hit(self, role: str, identity: str, *, ingest: bool = False) -> RateLimitDecision:
        budget = self.budget_for(role, ingest=ingest)
        if budget is None or not self._items[budget]:
            return UNLIMITED
        limits = self._limits[budget]
        if self._memory is not None:  # cannot fail, cannot hang
            decision = self._hit_memory(self._memory, budget, role, identity, limits)
            self._report(budget, "allowed" if decision.allowed else "rejected")
            return decision
        items = self._items[budget]
        if self._clock() < self._down_until:
            return self._without_storage(budget, items)
        keys = ("metrics-rpc", budget, role, identity)
        try:
            async with asyncio.timeout(self._timeout):
                decision = await self._hit_storage(keys, limits)
        except _STORAGE_ERRORS as exc:  # the storage is down: never let it become a 500
            if self._down_until == 0.0:
                log.warning(
                    "rate limit storage %s unavailable (%s: %s); failing %s",
                    self.config.storage_uri,
                    type(exc).__name__,
                    exc,
                    "open" if self.config.fail_open else "closed",
                )
            self._down_until = self._clock() + RETRY_STORAGE_AFTER
            return self._without_storage(budget, items)
        if self._down_until:
            log.warning("rate limit storage %s is back", self.config.storage_uri)
            self._down_until = 0.0
        self._report(budget, "allowed" if decision.allowed else "rejected")
        return decision

    def _hit_memory(self, storage: LoopMemoryStorage, budget: str, role: str, identity: str,
                    limits: tuple[_Limit, ...]) -> RateLimitDecision:
        """The moving window of each limit, as ``_hit_storage`` through ``limits``, in
        one synchronous call per limit (keys: the limit's position, budget, role, identity)."""
        tightest: RateLimitDecision | None = None
        for index, limit in enumerate(limits):
            allowed, oldest, count = storage.hit_window((index, budget, role, identity),
                                                        limit.amount, limit.expiry)
            decision = self._decision(limit, allowed, oldest + limit.expiry,
                                      limit.amount - count)
            if not allowed:
                return decision
            if tightest is None or decision.remaining < tightest.remaining:
                tightest = decision
        assert tightest is not None
        return tightest

    def _decision(self, limit: _Limit, allowed: bool, reset_time: float,
                  remaining: int) -> RateLimitDecision:
        return RateLimitDecision(
            allowed=allowed,
            limit=limit.amount,
            remaining=max(remaining, 0),
            reset_after=max(math.ceil(reset_time - self._clock()), 0),
            window=limit.expiry,
        )

    def _without_storage(self, budget: str, items: tuple[RateLimitItem, ...]) -> RateLimitDecision:
        self._report(budget, "storage_unavailable")
        if self.config.fail_open:
            return RateLimitDecision(allowed=True, storage_unavailable=True)
        return RateLimitDecision(
            allowed=False,
            reset_after=math.ceil(RETRY_STORAGE_AFTER),
            storage_unavailable=True,
        )

    async def _hit_storage(
        self, keys: tuple[str, ...], limits: tuple[_Limit, ...]
    ) -> RateLimitDecision:
        tightest: RateLimitDecision | None = None
        for limit in limits:
            allowed = await self._strategy.hit(limit.item, *keys)
            stats = await self._strategy.get_window_stats(limit.item, *keys)
            decision = self._decision(limit, allowed, stats.reset_time, stats.remaining)
            if not allowed:
                return decision
            if tightest is None or decision.remaining < tightest.remaining:
                tightest = decision
        assert tightest is not None
        return tightest

    def _report(self, budget: str, outcome: Outcome) -> None:
        if self.on_decision is not None:
            self.on_decision(budget, outcome)

    async def reset(self) -> None:
        """Forget every count (tests, and a ``memory://`` storage between runs)."""
        await self._storage.reset()


# --- the pipeline hook ----------------------------------------------------------------


class RequestRateLimiter:
    """The hook ``create_app(rate_limiter=…)`` awaits after auth (see ``api.rpc.pipeline``):
    the client address from the ASGI scope, then one hit; 429/503 raised as ``ApiError``."""

    ADDRESSES_KEPT = 4096  # peers (and proxied chains) whose client address is remembered

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        self.trusted_proxies = limiter.config.trusted_proxies
        # peer → (its address as ``client_ip`` gives it, whether it is a trusted proxy)
        self._peers: dict[str | None, tuple[str, bool]] = {}
        self._proxied: dict[tuple[str | None, tuple[str, ...]], str] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestRateLimiter | None:
        """None when ``METRICS_RPC_RATE_LIMITS`` is ``off``."""
        config = RateLimitConfig.from_settings(settings)
        return cls(RateLimiter(config)) if config.enabled else None

    def attach_metrics(self, registry: CollectorRegistry) -> None:
        """Count decisions in this registry (the app's ``/metrics``)."""
        self.limiter.on_decision = decision_counter(registry)

    def client_address(self, scope: MutableMapping[str, Any]) -> str:
        """``client_ip`` of the request, remembered per peer: a peer that is not a trusted
        proxy is its own client (no header is read); only a trusted one's
        ``X-Forwarded-For`` chain is looked at. Parsing addresses was the limiter's largest
        item under load."""
        client = scope.get("client")
        peer = str(client[0]) if client else None
        known = self._peers.get(peer)
        if known is None:
            if len(self._peers) >= self.ADDRESSES_KEPT:
                self._peers.clear()
            address = _parse_ip(peer) if peer else None
            known = self._peers[peer] = (
                (peer or "unknown", False) if address is None else
                (str(address), any(address in network for network in self.trusted_proxies)))
        if not known[1]:
            return known[0]
        forwarded = tuple(
            value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name.lower() == b"x-forwarded-for"
        )
        key = (peer, forwarded)
        client_address = self._proxied.get(key)
        if client_address is None:
            if len(self._proxied) >= self.ADDRESSES_KEPT:
                self._proxied.clear()
            client_address = self._proxied[key] = client_ip(peer, forwarded,
                                                            self.trusted_proxies)
        return client_address

    async def decide(
        self, auth: AuthResult, scope: MutableMapping[str, Any], *, ingest: bool = False
    ) -> RateLimitDecision:
        """The decision for this request (its headers: ``header_items``); raises 429 / 503
        when it is not allowed."""
        decision = await self.limiter.hit_request(
            role=auth.role,
            anonymous=auth.anonymous,
            sub=auth.sub,
            # only anonymous requests are told apart by address
            client_address=self.client_address(scope) if auth.anonymous else "",
            ingest=ingest,
        )
        if not decision.allowed:
            raise rejection(decision)
        return decision

    async def check(
        self, auth: AuthResult, scope: MutableMapping[str, Any], *, ingest: bool = False
    ) -> Mapping[str, str] | None:
        """Headers for the response (``RateLimit-*``), or raises 429 / 503."""
        return (await self.decide(auth, scope, ingest=ingest)).headers() or None
