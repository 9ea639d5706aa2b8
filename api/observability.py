"""Metrics and logs consume typed events; nothing else touches prometheus_client directly.

Each app gets its own ``CollectorRegistry`` (tests run several apps in one process).
Other components register their own metrics on ``Observability.registry`` (rate limiting,
ingest) and may emit their own events through ``Observability.emit``.

With several workers (``PROMETHEUS_MULTIPROC_DIR`` set by the supervisor before they
start) counters and histograms live in files shared by the workers and ``/metrics`` sums
them; the gauges that describe one process (pool, replicas) carry a ``worker`` label and
come from the worker that answers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

log = logging.getLogger("metrics_rpc")
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REQUEST_CHILDREN_KEPT = 4096  # (function, status) pairs whose metric children are kept


class RequestFinished(msgspec.Struct, frozen=True):
    function: str  # "" when the request did not get as far as naming a known function
    status: int
    seconds: float


class SchemaCacheLoaded(msgspec.Struct, frozen=True):
    ok: bool
    seconds: float
    functions: int = 0
    error: str | None = None


class DatabaseUnavailable(msgspec.Struct, frozen=True):
    error: str


class CacheLookup(msgspec.Struct, frozen=True):
    """One response-cache lookup: ``hit`` (stored or another request's query), ``miss``
    (this request ran the query), ``bypass`` (data versions unknown: the query ran)."""

    outcome: str


class CacheEvicted(msgspec.Struct, frozen=True):
    entries: int  # dropped by the memory storage's byte bound (LRU)


class CacheInvalidated(msgspec.Struct, frozen=True):
    domains: tuple[str, ...]  # () = everything (the LISTEN connection was (re)established)
    lag_seconds: float | None = None  # from the write's change time to this replica's notice


class _CacheBytesCollector(Collector):
    def __init__(self, stats: Callable[[], tuple[int, int]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        size, entries = self._stats()
        yield _gauge("metrics_rpc_cache_bytes",
                     "Bytes held by this process's response cache (memory storage)", size)
        yield _gauge("metrics_rpc_cache_entries",
                     "Entries in this process's response cache (memory storage)", entries)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _worker() -> str | None:
    """This worker's index when the server runs several (``METRICS_RPC_WORKERS``)."""
    return os.environ.get("METRICS_RPC_WORKER")


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    worker = _worker()
    if worker is None:
        return GaugeMetricFamily(name, documentation, value)
    family = GaugeMetricFamily(name, documentation, labels=["worker"])
    family.add_metric([worker], value)
    return family


class _PoolCollector(Collector):
    def __init__(self, stats: Callable[[], tuple[int, int, int]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        size, in_use, waiting = self._stats()
        yield _gauge("metrics_rpc_db_pool_size", "Connections in the pool", size)
        yield _gauge("metrics_rpc_db_pool_in_use", "Connections in use", in_use)
        yield _gauge("metrics_rpc_db_pool_waiting", "Requests waiting for a connection",
                     waiting)


class _ReplicaCollector(Collector):
    """Per read replica: up, lag, and the reads routed to replicas or to the primary."""

    def __init__(self, state: Callable[[], Any]) -> None:
        self._state = state

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        replicas, reads = self._state()
        worker = _worker()
        extra = [] if worker is None else ["worker"]
        up = GaugeMetricFamily("metrics_rpc_db_replica_up",
                               "1 when the read replica is used (reachable, not lagging)",
                               labels=["replica", *extra])
        lag = GaugeMetricFamily("metrics_rpc_db_replica_lag_seconds",
                                "Replay lag of the read replica at its last check",
                                labels=["replica", *extra])
        for name, usable, seconds in replicas:
            up.add_metric([name, *([worker] if worker else [])], 1.0 if usable else 0.0)
            lag.add_metric([name, *([worker] if worker else [])], seconds)
        routed = CounterMetricFamily("metrics_rpc_db_reads",
                                   "GET/HEAD calls by where they ran (replica or primary)",
                                   labels=["target", *extra])
        for target, count in reads.items():
            routed.add_metric([target, *([worker] if worker else [])], count)
        yield up
        yield lag
        yield routed


class Observability:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._request_children: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._lookup_children: dict[str, Any] = {}  # hit, miss, bypass
        self._local: list[Collector] = []  # this process's gauges
        self.requests = Counter(
            "metrics_rpc_requests", "RPC requests by function and status",
            ["function", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "metrics_rpc_request_duration_seconds", "RPC request latency by function",
            ["function"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.reloads = Counter(
            "metrics_rpc_schema_cache_reloads", "Schema cache loads by outcome", ["outcome"],
            registry=self.registry,
        )
        self.db_unavailable = Counter(
            "metrics_rpc_db_unavailable", "Requests answered 503 because the database was down",
            registry=self.registry,
        )

        self.cache_lookups = Counter(
            "metrics_rpc_cache_lookups", "Response cache lookups by outcome (hit, miss, bypass)",
            ["outcome"], registry=self.registry,
        )
        self.cache_evictions = Counter(
            "metrics_rpc_cache_evictions", "Response cache entries evicted by the byte bound",
            registry=self.registry,
        )
        self.cache_invalidations = Counter(
            "metrics_rpc_cache_invalidations", "Data-change notices that invalidated the cache",
            registry=self.registry,
        )
        self.cache_invalidation_lag = Histogram(
            "metrics_rpc_cache_invalidation_lag_seconds",
            "From a write's data version bump to this replica's notice of it",
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
        )

    def watch_cache(self, stats: Callable[[], tuple[int, int]]) -> None:
        self._local.append(_CacheBytesCollector(stats))
        self.registry.register(self._local[-1])

    def watch_pool(self, stats: Callable[[], tuple[int, int, int]]) -> None:
        self._local.append(_PoolCollector(stats))
        self.registry.register(self._local[-1])

    def watch_replicas(self, state: Callable[[], Any]) -> None:
        self._local.append(_ReplicaCollector(state))
        self.registry.register(self._local[-1])

    def _request_metrics(self, function: str, status: int) -> tuple[Any, Any]:
        """The request counter and latency histogram of (function, status): ``labels()``
        takes a lock and builds a key, so each pair is looked up once."""
        children = self._request_children.get((function, status))
        if children is None:
            if len(self._request_children) >= REQUEST_CHILDREN_KEPT:
                self._request_children.clear()
            children = self._request_children[(function, status)] = (
                self.requests.labels(function, str(status)), self.latency.labels(function))
        return children

    def emit(self, event: Any) -> None:
        if isinstance(event, RequestFinished):
            count, latency = self._request_metrics(event.function, event.status)
            count.inc()
            latency.observe(event.seconds)
        elif isinstance(event, SchemaCacheLoaded):
            self.reloads.labels("ok" if event.ok else "error").inc()
            if event.ok:
                log.info("schema cache loaded: %d functions in %.3fs", event.functions,
                         event.seconds)
            else:
                log.error("schema cache load failed: %s", event.error)
        elif isinstance(event, CacheLookup):
            lookups = self._lookup_children.get(event.outcome)
            if lookups is None:
                lookups = self._lookup_children[event.outcome] = self.cache_lookups.labels(
                    event.outcome)
            lookups.inc()
        elif isinstance(event, CacheEvicted):
            self.cache_evictions.inc(event.entries)
        elif isinstance(event, CacheInvalidated):
            self.cache_invalidations.inc()
            if event.lag_seconds is not None:
                self.cache_invalidation_lag.observe(max(event.lag_seconds, 0.0))
        elif isinstance(event, DatabaseUnavailable):
            self.db_unavailable.inc()
            log.warning("database unavailable: %s", event.error)

    def exposition(self) -> bytes:
        if os.environ.get(MULTIPROC_ENV):  # several workers: every worker's counts, summed
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            for collector in self._local:
                registry.register(collector)
            return generate_latest(registry)
        return generate_latest(self.registry)
