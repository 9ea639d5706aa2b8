"""api/rpc/query.py against PostgreSQL: the statement rendered from each kind of plan runs
as the anonymous role and gives the body PostgREST would (no HTTP in between)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import msgspec
import pytest

from api.http import RequestContext
from api.rpc.parse import HttpInput, parse_request
from api.rpc.plan import PlanConfig, plan_call
from api.rpc.query import call_statement
from api.rpc.schema_cache import load_schema_cache
from tests.pgfixtures import DbInfo

SCHEMAS = ("test_api", "test_api_v2")
CASES: list[tuple[str, str, dict[str, str], Any]] = [
    ("add", "a=1", {}, 11),
    ("add", "a=1&b=2", {"accept-profile": "test_api_v2"}, 2),
    ("hello", "", {}, "hello world"),
    ("nothing_found", "", {}, None),
    ("get_items", "min_id=2&score=gt.2&select=ident:id,name&order=id.desc&limit=2", {},
     [{"ident": 5, "name": "epsilon"}, {"ident": 4, "name": "delta"}]),
    ("get_items", "or=(id.eq.1,and(name.like.*mm*,score.is.null))&select=id", {},
     [{"id": 1}, {"id": 3}]),
    ("get_items", "id=in.(1,2)&select=id,score::text", {}, [
        {"id": 1, "score": "1.5"}, {"id": 2, "score": "2.5"}]),
    ("get_items", "id=eq.2&select=name", {"accept": "application/vnd.pgrst.object+json"},
     {"name": "beta"}),
    ("numbers", "n=3&offset=1", {}, [2, 3]),
    ("item", "item_id=3", {}, {"id": 3, "name": "gamma", "score": None, "tags": []}),
    ("make_pair", "a=1&b=x", {}, {"a": 1, "b": "x"}),
    ("out_params", "x=4", {}, {"doubled": 8, "label": "x=4"}),
    ("single_out", "num=5", {}, {"num_plus_one": 6}),
    ("single_inout", "num=3", {}, {"num": 6}),
    ("one_column", "n=2", {}, [{"x": 1}, {"x": 2}]),
    ("sum_all", "vals=1&vals=2&vals=4", {}, 7),
]


async def _body(db: DbInfo, fn: str, query: str, headers: dict[str, str]) -> bytes:
    conn = await asyncpg.connect(db.authenticator_dsn)
    try:
        cache = await load_schema_cache(conn, SCHEMAS)
        request = parse_request(HttpInput("GET", f"/rpc/{fn}", query, headers), fn, SCHEMAS)
        statement = call_statement(plan_call(request, cache, PlanConfig()))
        context = RequestContext.of("GET", f"/rpc/{fn}", headers, request.schema)
        await conn.execute("set role web_anon")
        row = await conn.fetchrow(statement.sql, *context.values('{"role":"web_anon"}'),
                                  *statement.params)
        return bytes(row[1])
    finally:
        await conn.close()


@pytest.mark.parametrize(("fn", "query", "headers", "expected"), CASES,
                         ids=[f"{c[0]}?{c[1]}" for c in CASES])
def test_rendered_statement_gives_the_body(rpc_db: DbInfo, fn: str, query: str,
                                           headers: dict[str, str], expected: Any) -> None:
    assert msgspec.json.decode(asyncio.run(_body(rpc_db, fn, query, headers))) == expected


def test_csv_body(rpc_db: DbInfo) -> None:
    body = asyncio.run(_body(rpc_db, "csv_text", "", {"accept": "text/csv"}))
    assert body == b'a,b\nplain,"with,comma"\n"with ""quote""",\n"line\nbreak",x'
