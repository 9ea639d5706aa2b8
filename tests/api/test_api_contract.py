"""The public contract of DESIGN.md §5 over HTTP, on the demo data.

Every API function answers with the documented columns, returns something meaningful on
the demo week, and gives over HTTP exactly what a psql user gets from the same call.

The demo week ends when it is loaded, and a function's default window ends at its own
``now()``: two calls a few milliseconds apart would see different windows. So every call
that has a window gets an explicit one, fixed once per module, whose ends fall inside
buckets on purpose (a partial first and last bucket).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.demo import load_demo
from tests.api.apiserver import ApiServer, running_api_server
from tests.pgfixtures import DbInfo

TIME_VALUE = ["timestamp", "value"]
LATEST = ["timestamp", "table_name", "value"]
# Off every bucket grid (day, hour, 5-minute samples): each window has a partial bucket at
# both ends.
FROM_BEFORE_LOAD = "6 days 13 hours 47 minutes 13 seconds"
TO_BEFORE_LOAD = "2 hours 22 minutes 31 seconds"

# function → (HTTP query arguments, documented columns)
CONTRACT: dict[str, tuple[dict[str, str], list[str]]] = {
    "get_agg_metric": ({"p_metric_name": "block_height", "p_schema": "mainnet",
                        "p_interval": "1 day"}, TIME_VALUE),
    "get_agg_cumsum_metric": ({"p_metric_name": "web_requests", "p_schema": "cumsum",
                               "p_interval": "1 day"}, TIME_VALUE),
    "get_agg_circulating_supply": ({"p_schema": "mainnet", "p_interval": "1 day"}, TIME_VALUE),
    "get_agg_fdv": ({"p_schema": "mainnet", "p_interval": "1 hour"}, TIME_VALUE),
    "get_agg_market_cap": ({"p_schema": "testnet", "p_interval": "1 day"}, TIME_VALUE),
    "get_agg_burned_supply": ({"p_schema": "mainnet", "p_interval": "1 day"}, TIME_VALUE),
    "get_latest_circulating_supply": ({"p_schema": "mainnet"}, TIME_VALUE),
    "get_latest_fdv": ({"p_schema": "mainnet"}, TIME_VALUE),
    "get_latest_market_cap": ({"p_schema": "testnet"}, TIME_VALUE),
    "get_latest_burned_supply": ({"p_schema": "mainnet"}, TIME_VALUE),
    "get_all_latest_token_metrics": ({"p_schema": "mainnet"}, LATEST),
    "get_all_latest_mainnet_metrics": ({}, LATEST),
    "get_all_latest_testnet_metrics": ({}, LATEST),
    "get_all_latest_common_metrics": ({}, LATEST),
    "get_all_latest_cumsum_metrics": ({}, LATEST),
    "get_latest_geo_coordinates": ({}, ["latitude", "longitude", "country_name", "city"]),
    "get_exemplars": ({"p_metric_name": "block_height", "p_schema": "mainnet"},
                      ["timestamp", "value", "series_labels", "labels", "trace_id"]),
    "get_excluded_addresses": ({}, ["id", "value"]),
    "get_runtime_by_user": ({"p_limit": "10"}, [
        "user_email", "user_name", "total_hours", "gpu_hours", "cpu_hours", "sessions",
        "containers", "applications", "last_seen"]),
    "get_active_users": ({"p_interval": "1 day"}, ["timestamp", "active_users", "containers"]),
    "get_node_usage": ({"p_interval": "1 day"},
                       ["timestamp", "node_name", "node_class", "unique_users", "containers"]),
    "get_image_usage": ({"p_interval": "1 day"}, [
        "timestamp", "container_base", "container_version", "unique_users", "containers"]),
}


@dataclass(frozen=True)
class DemoApi:
    server: ApiServer
    window: dict[str, str]  # explicit p_from / p_to inside the demo week
    windowed: frozenset[str]  # api functions whose p_from / p_to default to now()

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def db(self) -> DbInfo:
        return self.server.db  # type: ignore[return-value]

    def args(self, function: str, args: dict[str, str]) -> dict[str, str]:
        """``args`` plus the fixed window when ``function`` has one."""
        return {**self.window, **args} if function in self.windowed else dict(args)


@pytest.fixture(scope="module")
def demo_api(make_db: Any) -> Iterator[DemoApi]:
    db: DbInfo = make_db("contract")
    asyncio.run(load_demo(db.dsn, echo=lambda _line: None))
    loaded = "date_trunc('minute', now())"
    window_from, window_to = db.psql(
        "set timezone = 'UTC'; "
        f"select {loaded} - interval '{FROM_BEFORE_LOAD}', {loaded} - interval '{TO_BEFORE_LOAD}'"
    ).split("|")
    windowed = db.psql(
        "select string_agg(proname, ',') from pg_proc "
        "where pronamespace = 'api'::regnamespace and 'p_from' = any(proargnames)"
    ).split(",")
    with running_api_server(db, db_schemas=("api",)) as server:
        yield DemoApi(server, {"p_from": window_from, "p_to": window_to}, frozenset(windowed))
    db.drop()


def _psql_json(db: DbInfo, function: str, args: dict[str, str]) -> Any:
    named = ", ".join(f"{name} => {_literal(value)}" for name, value in args.items())
    out = db.psql(f"select coalesce(json_agg(t), '[]') from api.{function}({named}) t")
    return json.loads(out)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def test_every_documented_function_is_exposed(demo_api: DemoApi) -> None:
    paths = httpx.get(f"{demo_api.base_url}/").json()["paths"]
    missing = [f for f in [*CONTRACT, "add_excluded_address", "rm_excluded_address"]
               if f"/rpc/{f}" not in paths]
    assert missing == []


def test_windowed_functions_are_known(demo_api: DemoApi) -> None:
    assert {"get_agg_fdv", "get_runtime_by_user", "get_user_sessions"} <= demo_api.windowed


@pytest.mark.parametrize("function", sorted(CONTRACT))
def test_http_equals_psql_with_documented_columns(demo_api: DemoApi, function: str) -> None:
    args = demo_api.args(function, CONTRACT[function][0])
    columns = CONTRACT[function][1]
    response = httpx.get(f"{demo_api.base_url}/rpc/{function}", params=args, timeout=30)
    assert response.status_code == 200, response.text
    rows = response.json()
    assert rows, f"{function} returned nothing on the demo week"
    assert list(rows[0]) == columns
    assert rows == _psql_json(demo_api.db, function, args)


def test_range_functions_stream_their_rows(demo_api: DemoApi) -> None:
    # declared ROWS 10000, so a long range at one minute is streamed in chunks, never
    # built as one value in memory
    args = demo_api.args("get_agg_metric", {"p_metric_name": "block_height",
                                            "p_interval": "1 minute"})
    with httpx.stream("GET", f"{demo_api.base_url}/rpc/get_agg_metric", params=args) as response:
        assert response.status_code == 200
        assert response.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in response.headers
        rows = json.loads(response.read())
    assert len(rows) > 1000
    assert rows == _psql_json(demo_api.db, "get_agg_metric", args)


def test_user_sessions_of_the_busiest_user(demo_api: DemoApi) -> None:
    top = httpx.get(f"{demo_api.base_url}/rpc/get_runtime_by_user",
                    params=demo_api.args("get_runtime_by_user", {"p_limit": "1"})).json()[0]
    args = demo_api.args("get_user_sessions", {"p_user_email": top["user_email"]})
    sessions = httpx.get(f"{demo_api.base_url}/rpc/get_user_sessions", params=args).json()
    assert list(sessions[0]) == ["session_start", "session_end", "runtime_hours", "pod_name",
                                 "node_name", "container_base", "container_version", "active"]
    # `active` means "seen in the 15 minutes before now()", which each call reads for
    # itself; tests/sql/44_sessions_user_sessions.sql checks it within one transaction.
    assert _without_active(sessions) == _without_active(
        _psql_json(demo_api.db, "get_user_sessions", args))
    assert all(isinstance(row["active"], bool) for row in sessions)
    assert len(sessions) == top["sessions"]


def _without_active(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "active"} for row in rows]


def test_excluded_addresses_writer_edits_are_audited(demo_api: DemoApi) -> None:
    base = demo_api.base_url
    address = "manifest1contracttestaddress000000000000"
    anon = httpx.post(f"{base}/rpc/add_excluded_address", json={"p_value": address})
    assert anon.status_code == 401
    assert anon.headers["www-authenticate"].startswith("Bearer")
    reader = httpx.post(f"{base}/rpc/add_excluded_address", json={"p_value": address},
                        headers={"Authorization": f"Bearer {demo_api.server.token('web_anon')}"})
    assert reader.status_code == 403
    writer = {"Authorization": f"Bearer {demo_api.server.token('writer', sub='alice')}"}
    added = httpx.post(f"{base}/rpc/add_excluded_address", json={"p_value": address},
                       headers=writer)
    assert added.status_code == 204, added.text
    again = httpx.post(f"{base}/rpc/add_excluded_address", json={"p_value": address},
                       headers=writer)
    assert again.status_code == 409
    listed = httpx.get(f"{base}/rpc/get_excluded_addresses", params={"value": f"eq.{address}"})
    assert [row["value"] for row in listed.json()] == [address]
    removed = httpx.post(f"{base}/rpc/rm_excluded_address", json={"p_value": address},
                         headers=writer)
    assert removed.status_code == 204, removed.text
    audit = demo_api.db.psql(
        "select string_agg(action || ':' || sub || ':' || role, ',' order by id) "
        f"from metrics.excluded_addresses_audit where value = '{address}'"
    )
    assert audit == "add:alice:writer,remove:alice:writer"
