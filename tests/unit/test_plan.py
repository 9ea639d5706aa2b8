"""api/rpc/plan.py and the pure part of api/rpc/schema_cache.py: no database."""

from __future__ import annotations

from typing import Any

import pytest

from api.config import QualifiedName, TxEnd
from api.errors import ApiError
from api.rpc.parse import Filter, HttpInput, OrderTerm, parse_request
from api.rpc.plan import (
    CallPlan,
    JsonArgs,
    OutputColumn,
    Page,
    PlanConfig,
    QueryArgs,
    RawArg,
    TxMode,
    plan_call,
)
from api.rpc.schema_cache import Arg, Column, build_schema_cache
from tests.unit.plans import SCHEMAS, row

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
    row("bare_record", return_type="record", return_typtype="p"),
    row("big", retset=True, rows=100000.0, return_type="record", return_typtype="p",
        arg_names=["i"], arg_modes=["t"], arg_types=["integer"]),
    row("add", schema="v2", arg_names=["a", "b"], arg_types=["integer", "integer"]),
    row("single_out", arg_names=["num", "num_plus_one"], arg_modes=["i", "o"],
        arg_types=["integer", "integer"]),
    row("one_column", retset=True, arg_names=["x"], arg_modes=["t"], arg_types=["integer"]),
]
ROWS[1].update(arg_names=["min_id", "id", "name", "score"],
               arg_types=["integer", "integer", "text", "numeric"])
del ROWS[1]["arg_types_"]
CACHE = build_schema_cache(ROWS)


def plan(query: str = "", method: str = "GET", body: bytes = b"", fn: str = "items",
         config: PlanConfig | None = None, **headers: str) -> CallPlan:
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
    assert get("bad_unnamed") == ()
    # a bare record (no OUT parameters) is a scalar value, as PostgREST treats it
    assert get("bare_record")[0].shape == "scalar"
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
    assert p.arguments == RawArg('{"anything": [1]}')
    t = plan(fn="echo_text", method="POST", body=b"hi", content_type="text/plain")
    assert t.arguments == RawArg("hi")


# --- the plan's fields ------------------------------------------------------------------------


def test_query_arguments_are_sorted_last_wins_variadic_takes_all() -> None:
    p = plan("b=2&a=1&a=3", fn="add")
    assert p.args == (Arg("a", "integer", False), Arg("b", "integer", True))
    assert p.arguments == QueryArgs((("a", "3"), ("b", "2")))
    assert plan("vals=1&vals=2", fn="sum_all").arguments == QueryArgs((("vals", ("1", "2")),))
    assert plan(fn="noop").arguments is None and plan(fn="noop").args == ()


def test_json_and_unnamed_arguments() -> None:
    p = plan(fn="add", method="POST", body=b'{"a": 1}')
    assert p.arguments == JsonArgs(b'{"a": 1}') and [a.name for a in p.args] == ["a"]
    assert plan(fn="add", method="POST", body=b'[{"a": 1}, {"a": 2}]').arguments == (
        JsonArgs(b'{"a":1}'))


def test_equal_requests_give_equal_hashable_plans() -> None:
    one = plan("b=2&a=1", fn="add")
    other = plan("a=1&b=2", fn="add")
    assert one == other and hash(one) == hash(other)
    assert len({one, other, plan("a=1&b=3", fn="add")}) == 2


def test_filters_select_order_and_page() -> None:
    p = plan("id=not.in.(1,2)&name=ilike.*a*&select=ident:id,score::text&order=score.desc"
             "&limit=5&offset=10")
    assert p.filters == (Filter("id", "in", ("1", "2"), negated=True),
                         Filter("name", "ilike", "*a*"))
    assert p.columns == (OutputColumn("ident", Column("id", "integer")),
                         OutputColumn("score", Column("score", "numeric"), "text"))
    assert not p.plain_columns
    assert p.order == (OrderTerm("score", descending=True),)
    assert p.page == Page(offset=10, limit=5)


def test_every_column_when_no_select() -> None:
    p = plan()
    assert [c.name for c in p.columns] == ["id", "name", "score"] and p.plain_columns
    assert plan(fn="noop").columns == ()
    assert [c.name for c in plan("n=1&select=id", fn="numbers").columns] == ["numbers"]


def test_unknown_columns_are_400() -> None:
    for query in ("nope=eq.1", "order=nope", "select=nope", "or=(nope.eq.1)",
                  "and=(id.eq.1,or(nope.eq.2))"):
        err = error_of(query=query)
        assert (err.status, err.code) == (400, "42703"), query
        assert err.message == "column items.nope does not exist"


def test_max_rows_caps_the_page() -> None:
    assert plan("limit=500", config=PlanConfig(max_rows=100)).page == Page(0, 100)
    assert plan(config=PlanConfig(max_rows=100)).page == Page(0, 100)
    assert plan("limit=5", config=PlanConfig(max_rows=100)).page == Page(0, 5)
    assert plan().page == Page(0, None)


def test_count_preference() -> None:
    assert plan(prefer="count=exact").count
    assert plan(prefer="count=planned").count  # counted exactly, not claimed as planned
    assert not plan().count


def test_pre_request_is_part_of_the_plan() -> None:
    pre = QualifiedName("api", "check")
    assert plan(config=PlanConfig(pre_request=pre)).pre_request == pre
    assert plan().pre_request is None


def test_transaction_modes() -> None:
    get_write = plan("v=x", fn="write")
    assert get_write.tx == TxMode(read_only=True, rollback=False)
    assert not get_write.explicit_tx
    post_write = plan(fn="write", method="POST", body=b'{"v": "x"}')
    assert not post_write.read_only and post_write.explicit_tx
    post_read = plan("", fn="add", method="POST", body=b'{"a": 1}')
    assert post_read.read_only and not post_read.explicit_tx
    assert not plan(prefer="tx=rollback").rollback  # commit mode: no override
    allowed = PlanConfig(tx_end=TxEnd.COMMIT_ALLOW_OVERRIDE)
    assert plan(prefer="tx=rollback", config=allowed).rollback
    assert plan(prefer="tx=rollback", config=allowed).explicit_tx
    assert plan(config=PlanConfig(tx_end=TxEnd.ROLLBACK)).rollback
    assert not plan(prefer="tx=commit",
                    config=PlanConfig(tx_end=TxEnd.ROLLBACK_ALLOW_OVERRIDE)).rollback


def test_media() -> None:
    assert plan().media == "json"
    assert plan(accept="application/vnd.pgrst.object+json").singular
    assert plan(accept="text/csv").media == "csv"


def test_streaming_only_for_big_functions_without_small_limit() -> None:
    assert plan(fn="big").streaming and plan(fn="big").explicit_tx
    assert not plan("limit=10", fn="big").streaming
    assert plan("limit=20000", fn="big").streaming
    assert not plan(fn="big", prefer="count=exact").streaming
    assert not plan(fn="big", accept="application/vnd.pgrst.object+json").streaming
    assert not plan().streaming


def test_single_out_parameter_is_an_object() -> None:
    fn = CACHE.overloads("api", "single_out")[0]
    assert fn.shape == "composite" and fn.columns == (Column("num_plus_one", "integer"),)
    assert fn.returns_base_type
    one_column = CACHE.overloads("api", "one_column")[0]
    assert one_column.shape == "setof_composite"
    assert one_column.columns == (Column("x", "integer"),)


def test_raw_media_only_for_scalars_else_the_next_acceptable_type() -> None:
    assert plan("a=1", fn="add", accept="text/plain").media == "text"
    assert plan(accept="text/plain, application/json;q=0.5").media == "json"  # a set
    err = error_of(accept="application/octet-stream")
    assert (err.status, err.code) == (406, "PGRST107")


def test_no_rpc_hint_is_null_when_nothing_is_close() -> None:
    from api.rpc.plan import closest

    assert closest("(a, b, wrong_arg)", ["(a, b, c)", "()"], 0.33) == "(a, b, c)"
    assert closest("(wrong_arg)", ["(a, b, c)", "(a, b)", "()"], 0.33) is None
    assert closest("sayhell", ["sayhello", "add_them"], 0.75) == "sayhello"
    err = error_of(query="no_such_argument=1", fn="add")
    assert err.hint is None


def test_raw_body_without_a_matching_unnamed_parameter_names_its_type() -> None:
    err = error_of(method="POST", body=b"x", fn="add", content_type="text/xml")
    assert err.message == "Could not find the function api.add in the schema cache"
    assert err.details == ("Searched for the function api.add with a single unnamed xml "
                           "parameter, but no matches were found in the schema cache.")
    assert err.hint is None
