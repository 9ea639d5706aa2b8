"""Plans for the unit tests of the stages after plan (query, respond): a schema cache built
from catalog-shaped rows, no database."""

from __future__ import annotations

from typing import Any

from api.rpc.parse import HttpInput, RpcRequest, parse_request
from api.rpc.plan import CallPlan, PlanConfig, plan_call
from api.rpc.schema_cache import build_schema_cache

SCHEMAS = ("api", "v2")


def row(name: str, **kw: Any) -> dict[str, Any]:
    """A FUNCTIONS_SQL row with defaults for a scalar immutable function."""
    base: dict[str, Any] = {
        "oid": 1, "schema": "api", "name": name, "volatility": "i", "retset": False,
        "rows": 0.0, "comment": None, "arg_names": [], "arg_modes": [], "arg_types": [],
        "n_defaults": 0, "return_type": "integer", "return_typtype": "b", "comp_names": [],
        "comp_types": [],
    }
    base.update(kw)
    return base


CACHE = build_schema_cache([
    row("add", arg_names=["a", "b"], arg_types=["integer", "integer"], n_defaults=1),
    row("items", arg_names=["min_id", "id", "name", "score"],
        arg_types=["integer", "integer", "text", "numeric"], arg_modes=["i", "t", "t", "t"],
        n_defaults=1, retset=True, rows=1000.0, return_type="record", return_typtype="p"),
    row("noop", return_type="void", return_typtype="p", volatility="v"),
    row("echo", arg_names=[], arg_types=["json"], return_type="json"),
    row("big", retset=True, rows=100000.0, return_type="record", return_typtype="p",
        arg_names=["i"], arg_modes=["t"], arg_types=["integer"]),
    row("single_out", arg_names=["num", "num_plus_one"], arg_modes=["i", "o"],
        arg_types=["integer", "integer"]),
])


def request(query: str = "", method: str = "GET", body: bytes = b"", fn: str = "items",
            **headers: str) -> RpcRequest:
    hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
    return parse_request(HttpInput(method, f"/rpc/{fn}", query, hdrs, body), fn, SCHEMAS)


def plan(query: str = "", method: str = "GET", body: bytes = b"", fn: str = "items",
         config: PlanConfig | None = None, **headers: str) -> CallPlan:
    return plan_call(request(query, method, body, fn, **headers), CACHE, config or PlanConfig())
