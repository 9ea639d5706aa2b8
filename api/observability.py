"""Metrics and logs consume typed events; nothing else touches prometheus_client directly.

Each app gets its own ``CollectorRegistry`` (tests run several apps in one process).
Other components register their own metrics on ``Observability.registry`` (rate limiting,
ingest) and may emit their own events through ``Observability.emit``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("metrics_rpc")
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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


class _PoolCollector(Collector):
    def __init__(self, stats: Callable[[], tuple[int, int, int]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        size, in_use, waiting = self._stats()
        yield GaugeMetricFamily("metrics_rpc_db_pool_size", "Connections in the pool", size)
        yield GaugeMetricFamily("metrics_rpc_db_pool_in_use", "Connections in use", in_use)
        yield GaugeMetricFamily(
            "metrics_rpc_db_pool_waiting", "Requests waiting for a connection", waiting
        )


class Observability:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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

    def watch_pool(self, stats: Callable[[], tuple[int, int, int]]) -> None:
        self.registry.register(_PoolCollector(stats))

    def emit(self, event: Any) -> None:
        if isinstance(event, RequestFinished):
            self.requests.labels(event.function, str(event.status)).inc()
            self.latency.labels(event.function).observe(event.seconds)
        elif isinstance(event, SchemaCacheLoaded):
            self.reloads.labels("ok" if event.ok else "error").inc()
            if event.ok:
                log.info("schema cache loaded: %d functions in %.3fs", event.functions,
                         event.seconds)
            else:
                log.error("schema cache load failed: %s", event.error)
        elif isinstance(event, DatabaseUnavailable):
            self.db_unavailable.inc()
            log.warning("database unavailable: %s", event.error)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
