"""api/rpc/query.py, without a database: what goes into the SQL text and what into bind
parameters. That the statements run, and give the right rows, is checked against
PostgreSQL in tests/api/test_query_sql.py."""

from __future__ import annotations

from api.config import QualifiedName
from api.rpc.plan import PlanConfig
from api.rpc.query import CONTEXT_PARAMS, STREAM_HEAD, call_statement, inline_params, sql_literal
from tests.unit.plans import plan


def test_request_values_are_only_bind_parameters() -> None:
    evil = "x'; drop table t; --"
    statement = call_statement(plan(f"min_id=1&name=eq.{evil}&select=id,{evil}:name"))
    assert "drop table" not in statement.sql
    assert statement.params.count(evil) == 2  # the filter operand and the select alias
    assert statement.params[0] == '{"min_id":"1"}'  # the arguments object, $7
    assert f"${CONTEXT_PARAMS + 1}::json" in statement.sql


def test_parameters_follow_the_context_ones_in_order() -> None:
    statement = call_statement(plan("id=in.(1,2)&name=ilike.*a*&limit=5&offset=10"))
    assert statement.params == (["1", "2"], "%a%", 5, 10)
    assert statement.sql.endswith(" limit $9 offset $10) as _p")


def test_gate_and_pre_request() -> None:
    sql = call_statement(plan()).sql
    for guc in ("request.jwt.claims", "request.method", "request.path", "request.headers",
                "request.cookies", "search_path", "transaction_read_only"):
        assert f"set_config('{guc}'" in sql
    pre = PlanConfig(pre_request=QualifiedName("auth", 'ch"k'))
    assert 'from "auth"."ch""k"() as _pre' in call_statement(plan(config=pre)).sql


def test_streamed_statements_frame_their_rows_as_a_call_would() -> None:
    # json_agg puts ", \n " between composite rows, ", " between json_build_object values
    json = call_statement(plan(fn="big"))
    assert (json.stream_prefix, json.stream_first_separator, json.stream_separator,
            json.stream_suffix) == (b"[", b"", b", \n ", b"]")
    aliased = call_statement(plan("select=n:i", fn="big"))
    assert aliased.stream_separator == b", "
    csv = call_statement(plan(fn="big", accept="text/csv"))
    assert (csv.stream_prefix, csv.stream_first_separator, csv.stream_separator,
            csv.stream_suffix) == (b"i", b"\n", b"\n", b"")


def test_a_streamed_statement_is_a_copy_query_led_by_the_response_gucs() -> None:
    # the function's own row number marks the first row; a window when rows are filtered,
    # ordered or skipped (the first one sent is then not the function's first)
    sql = call_statement(plan(fn="big")).sql
    assert f"when _q._n = 1 then {STREAM_HEAD} || E'\\x01' || _q._r" in sql
    assert 'with ordinality as _f("i", _n)' in sql
    assert "row_number()" not in sql
    assert "row_number()" not in call_statement(plan("limit=20000", fn="big")).sql
    for query in ("i=gt.3", "order=i.desc", "offset=2"):
        sql = call_statement(plan(query, fn="big")).sql
        assert "row_number() over ()" in sql and "ordinality" not in sql
        assert f"when _q._n = 1 then {STREAM_HEAD} || E'\\x01' || _q._r" in sql


def test_inlined_parameters_are_literals_whatever_they_hold() -> None:
    sql = r"""select $1, $2, $3, $4, $5, '$1', "$2", $6"""
    values = ["it's", "back\\slash", 12, ["a", "b'"], b"\x01\xff", None]
    assert inline_params(sql, values) == (
        r"""select E'it''s', E'back\\slash', 12, ARRAY[E'a', E'b''']::text[], """
        r"""E'\\x01ff'::bytea, '$1', "$2", NULL""")
    assert sql_literal("nul\x00") == r"E'nul\000'"  # PostgreSQL rejects it: 22021


def test_a_single_out_parameter_names_its_column() -> None:
    assert 'as _f("num_plus_one")' in call_statement(plan("num=1", fn="single_out")).sql
