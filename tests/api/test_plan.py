"""api/rpc/plan.py and the pure part of api/rpc/schema_cache.py: no database."""

from __future__ import annotations

from typing import Any

import pytest

from api.errors import ApiError
from api.rpc.parse import HttpInput, parse_request
from api.rpc.plan import CONTEXT_PARAMS, Plan, PlanConfig, plan_call, pre_request_name
from api.rpc.schema_cache import Arg, Column, Function, SchemaCache, build_schema_cache

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


ROWS = [
    row("add", arg_names=["a", "b"], arg_types=["integer", "integer"], n_defaults=1),
    row("items", arg_names=["min_id"], arg_types=["integer"], n_defaults=1, retset=True,
        rows=1000.0, return_type="record", return_typtype="p",
        arg_modes=["i", "t", "t", "t"], arg_types_=None),
    row("numbers", arg_names=["n"], arg_types=["integer"], retset=True),
    row("pair", return_type="api.pair", return_typtype="c", comp_names=["a", "b"],
        comp_types=["integer", "text"]),
    row("noop", return_type="void", return_typtype="p", volatility="v"),
    row("write", arg_names=["v"], arg_types=["text"], volatility="v"),
    row("sum_all", arg_names=["vals"], arg_types=["integer[]"], arg_modes=["v"]),
    row("over", oid=10, arg_names=["a"], arg_types=["integer"]),
    row("over", oid=11, arg_names=["a"], arg_types=["text"]),
    row("echo", arg_names=[], arg_types=["json"], return_type="json"),
    row("echo_text", arg_names=[""], arg_types=["text"], return_type="text"),
    row("bad_unnamed", arg_names=["", "b"], arg_types=["integer", "integer"]),
    row("bad_record", return_type="record", return_typtype="p"),
    row("big", retset=True, rows=100000.0, return_type="record", return_typtype="p",
        arg_names=["i"], arg_modes=["t"], arg_types=["integer"]),
    row("add", schema="v2", arg_names=["a", "b"], arg_types=["integer", "integer"]),
]
ROWS[1].update(arg_names=["min_id", "id", "name", "score"],
               arg_types=["integer", "integer", "text", "numeric"])
del ROWS[1]["arg_types_"]
CACHE = build_schema_cache(ROWS)


def plan(query: str = "", method: str = "GET", body: bytes = b"", fn: str = "items",
         config: PlanConfig | None = None, **headers: str) -> Plan:
    hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
    request = parse_request(HttpInput(method, f"/rpc/{fn}", query, hdrs, body), fn, SCHEMAS)
    return plan_call(request, CACHE, config or PlanConfig())


def error_of(**kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        plan(**kwargs)
    return info.value


# --- schema cache --------------------------------------------------------------------------


def test_build_schema_cache_shapes() -> None:
    get = lambda name, schema="api": CACHE.overloads(schema, name)  # noqa: E731
    assert get("add")[0].args == (Arg("a", "integer", False), Arg("b", "integer", True))
    assert get("add")[0].shape == "scalar"
    items = get("items")[0]
    assert items.shape == "setof_composite"
    assert items.args == (Arg("min_id", "integer", True),)
    assert items.columns == (Column("id", "integer"), Column("name", "text"),
                             Column("score", "numeric"))
    assert get("numbers")[0].shape == "setof_scalar"
    assert get("numbers")[0].columns == (Column("numbers", "integer"),)
    assert get("pair")[0].shape == "composite"
    assert get("noop")[0].shape == "void"
    assert get("sum_all")[0].args[0].variadic
    assert len(get("over")) == 2
    assert get("echo")[0].single_unnamed == Arg("", "json", False)
    assert get("bad_unnamed") == () and get("bad_record") == ()
    assert get("add", "v2")[0].required_args == {"a", "b"}
    assert get("over")[0].signature() == "api.over(a => integer)"


def test_session_settings_reset_other_roles_settings() -> None:
    cache = build_schema_cache(
        [],
        [{"role": "web_anon", "name": "statement_timeout", "value": "5s"},
         {"role": "writer", "name": "work_mem", "value": "64MB"}],
        {"statement_timeout": "30s", "work_mem": "4MB"},
    )
    assert cache.session_settings("web_anon") == (("statement_timeout", "5s"),
                                                  ("work_mem", "4MB"))
    assert cache.session_settings("writer") == (("statement_timeout", "30s"),
                                                ("work_mem", "64MB"))
    assert cache.session_settings("nobody") == (("statement_timeout", "30s"),
                                                ("work_mem", "4MB"))


# --- function resolution ---------------------------------------------------------------------


def test_resolution_by_argument_names() -> None:
    assert plan("a=1", fn="add").function.name == "add"
    assert plan("a=1&b=2", fn="add").function.args[1].name == "b"
    assert plan("a=1&b=2", fn="add", accept_profile="v2").function.schema == "v2"


def test_unknown_arguments_are_404_with_hint() -> None:
    err = error_of(query="c=1", fn="add")
    assert (err.status, err.code) == (404, "PGRST202")
    assert err.message == "Could not find the function api.add(c) in the schema cache"
    assert err.details == ("Searched for the function api.add with parameter c, but no matches "
                           "were found in the schema cache.")
    assert err.hint == "Perhaps you meant to call the function api.add(a, b)"


def test_missing_required_argument_is_404() -> None:
    err = error_of(query="b=1", fn="add")
    assert err.code == "PGRST202"


def test_unknown_function_is_404_with_fuzzy_hint() -> None:
    err = error_of(fn="itemz")
    assert err.message == ("Could not find the function api.itemz without parameters in the "
                           "schema cache")
    assert err.hint == "Perhaps you meant to call the function api.items"
    err = error_of(fn="zzzzzz", method="POST", body=b'{"a": 1, "b": 2}')
    assert err.details == ("Searched for the function api.zzzzzz with parameters a, b or with a "
                           "single unnamed json/jsonb parameter, but no matches were found in "
                           "the schema cache.")
    assert err.hint is None


def test_overloads_by_same_names_are_300() -> None:
    err = error_of(query="a=1", fn="over")
    assert (err.status, err.code) == (300, "PGRST203")
    assert err.message == ("Could not choose the best candidate function between: "
                           "api.over(a => integer), api.over(a => text)")


def test_single_unnamed_parameters() -> None:
    p = plan(fn="echo", method="POST", body=b'{"anything": [1]}')
    assert p.function.name == "echo"
    assert p.params == ('{"anything": [1]}',)
    t = plan(fn="echo_text", method="POST", body=b"hi", content_type="text/plain")
    assert t.params == ("hi",)


# --- the statement ---------------------------------------------------------------------------


def test_values_are_only_bind_parameters() -> None:
    evil = "x'; drop table t; --"
    p = plan(f"min_id=1&name=eq.{evil}&select=id,{evil}:name", fn="items")
    assert "drop table" not in p.sql
    assert evil in p.params
    assert p.params.count(evil) == 2  # the filter operand and the select alias
    assert f"${CONTEXT_PARAMS + 1}::json" in p.sql  # the arguments object


def test_unknown_columns_are_400() -> None:
    for query in ("nope=eq.1", "order=nope", "select=nope", "or=(nope.eq.1)"):
        err = error_of(query=query)
        assert (err.status, err.code) == (400, "42703"), query
        assert err.message == "column items.nope does not exist"


def test_filters_and_order_sql() -> None:
    p = plan("id=not.in.(1,2)&name=ilike.*a*&score=is.null&order=score.desc.nullslast,id")
    assert 'not (_f."id" = any($7::text[]::integer[]))' in p.sql
    assert '_f."name"::text ilike $8::text' in p.sql
    assert '_f."score" is null' in p.sql
    assert 'order by _f."score" desc nulls last, _f."id" asc' in p.sql
    assert p.params == (["1", "2"], "%a%")


def test_limit_offset_and_max_rows() -> None:
    p = plan("limit=5&offset=10")
    assert p.sql.endswith(" limit $7 offset $8) as _p")
    assert p.params == (5, 10) and p.offset == 10
    capped = plan("limit=500", config=PlanConfig(max_rows=100))
    assert capped.params == (100,)
    assert plan(config=PlanConfig(max_rows=100)).params == (100,)


def test_count_uses_one_materialized_source() -> None:
    p = plan("id=gt.1", prefer="count=exact")
    assert not plan("id=gt.1").sql.startswith("with _s as")  # no count: no materialized _s
    assert p.sql.startswith("with _s as (select _f.* from")
    assert "(select count(*) from _s)" in p.sql


def test_gate_sets_gucs_and_read_only_before_the_call() -> None:
    p = plan()
    for guc in ("request.jwt.claims", "request.method", "request.path", "request.headers",
                "request.cookies", "search_path", "transaction_read_only"):
        assert f"set_config('{guc}'" in p.sql
    with_pre = plan(config=PlanConfig(pre_request=("api", "check")))
    assert 'from "api"."check"() as _pre' in with_pre.sql


def test_transaction_modes() -> None:
    get_write = plan("v=x", fn="write")
    assert get_write.read_only and not get_write.explicit_tx
    post_write = plan(fn="write", method="POST", body=b'{"v": "x"}')
    assert not post_write.read_only and post_write.explicit_tx
    assert "transaction_read_only" not in post_write.sql
    post_read = plan("", fn="add", method="POST", body=b'{"a": 1}')
    assert post_read.read_only and not post_read.explicit_tx
    assert not plan(prefer="tx=rollback").rollback  # commit mode: no override
    allowed = PlanConfig(tx_end="commit-allow-override")
    assert plan(prefer="tx=rollback", config=allowed).rollback
    assert plan(config=PlanConfig(tx_end="rollback")).rollback


def test_media_shapes() -> None:
    assert "json_agg(_p)" in plan().sql
    assert "-> 0" in plan(accept="application/vnd.pgrst.object+json").sql
    csv = plan(accept="text/csv")
    assert "string_agg" in csv.sql and "id,name,score" in csv.params
    aliased = plan("select=ident:id,score::text")
    assert "json_build_object" in aliased.sql and "ident" in aliased.params
    assert "(_f.\"score\")::text" in aliased.sql
    assert "null::bytea" in plan(fn="noop").sql


def test_streaming_only_for_big_functions_without_small_limit() -> None:
    assert plan(fn="big").streaming
    assert not plan("limit=10", fn="big").streaming
    assert not plan(fn="big", prefer="count=exact").streaming
    assert not plan().streaming
    csv = plan(fn="big", accept="text/csv")
    assert csv.streaming and csv.stream_prefix == b"i\n"


def test_pre_request_name() -> None:
    assert pre_request_name(None, "api") is None
    assert pre_request_name("check", "api") == ("api", "check")
    assert pre_request_name("auth.check", "api") == ("auth", "check")


def test_cache_is_a_value() -> None:
    assert isinstance(CACHE, SchemaCache)
    assert isinstance(CACHE.overloads("api", "add")[0], Function)
