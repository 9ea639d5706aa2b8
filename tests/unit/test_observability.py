"""api/observability.py: typed events → the Prometheus registry and the log."""

from __future__ import annotations

import logging

import pytest

from api.observability import (
    DatabaseUnavailable,
    Observability,
    RequestFinished,
    SchemaCacheLoaded,
)


def sample(obs: Observability, name: str, **labels: str) -> float | None:
    return obs.registry.get_sample_value(name, labels or None)


def test_request_finished_counts_by_function_and_status() -> None:
    obs = Observability()
    obs.emit(RequestFinished("add", 200, 0.003))
    obs.emit(RequestFinished("add", 200, 0.004))
    obs.emit(RequestFinished("add", 404, 0.001))
    assert sample(obs, "metrics_rpc_requests_total", function="add", status="200") == 2
    assert sample(obs, "metrics_rpc_requests_total", function="add", status="404") == 1
    assert sample(obs, "metrics_rpc_request_duration_seconds_count", function="add") == 3
    assert b'metrics_rpc_requests_total{function="add",status="200"} 2.0' in obs.exposition()


def test_database_unavailable_is_counted_and_logged_once_per_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    obs = Observability()
    with caplog.at_level(logging.WARNING, logger="metrics_rpc"):
        obs.emit(DatabaseUnavailable("57P03: the database system is shutting down"))
    assert sample(obs, "metrics_rpc_db_unavailable_total") == 1
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["database unavailable: 57P03: the database system is shutting down"]


def test_schema_cache_loads_by_outcome(caplog: pytest.LogCaptureFixture) -> None:
    obs = Observability()
    with caplog.at_level(logging.INFO, logger="metrics_rpc"):
        obs.emit(SchemaCacheLoaded(ok=True, seconds=0.1, functions=3))
        obs.emit(SchemaCacheLoaded(ok=False, seconds=0.1, error="connection refused"))
    assert sample(obs, "metrics_rpc_schema_cache_reloads_total", outcome="ok") == 1
    assert sample(obs, "metrics_rpc_schema_cache_reloads_total", outcome="error") == 1
    assert any("connection refused" in r.getMessage() for r in caplog.records)


def test_pool_gauges_read_the_pool_when_scraped() -> None:
    obs = Observability()
    stats = [(4, 1, 0)]
    obs.watch_pool(lambda: stats[0])
    assert sample(obs, "metrics_rpc_db_pool_size") == 4
    stats[0] = (5, 5, 2)
    assert sample(obs, "metrics_rpc_db_pool_in_use") == 5
    assert sample(obs, "metrics_rpc_db_pool_waiting") == 2


def test_unknown_events_are_ignored() -> None:
    obs = Observability()
    obs.emit(object())
    assert sample(obs, "metrics_rpc_db_unavailable_total") == 0
