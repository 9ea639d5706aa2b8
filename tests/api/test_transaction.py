"""api/rpc/transaction.py against PostgreSQL, without HTTP: role switching on the pooled
connection, the request's schema-cache snapshot, retries of reads after a dropped
connection (and none for a 503 the function raised), errors as their ``ApiError`` case."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from asyncpg.exceptions import _base as asyncpg_base

from api.config import Settings
from api.errors import DbConnectionError, RaisedError
from api.http import RequestContext
from api.rpc.auth import AuthResult
from api.rpc.parse import HttpInput, parse_request
from api.rpc.plan import PlanConfig, plan_call
from api.rpc.query import Statement, call_statement
from api.rpc.schema_cache import SchemaCache, load_schema_cache
from api.rpc.transaction import Database, map_db_errors
from tests.pgfixtures import DbInfo

SCHEMAS = ("test_api", "test_api_v2")
ANON = AuthResult.of("web_anon", {"role": "web_anon"}, None, anonymous=True)
WRITER = AuthResult.of("writer", {"role": "writer", "sub": "t"}, "t", anonymous=False)


def run(db: DbInfo, body: Callable[[Database, SchemaCache], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        conn = await asyncpg.connect(db.authenticator_dsn)
        try:
            cache = await load_schema_cache(conn, SCHEMAS)
        finally:
            await conn.close()
        database = Database(Settings(db_uri=db.authenticator_dsn, db_schemas=SCHEMAS,
                                     db_pool=1))
        await database.start()
        try:
            return await body(database, cache)
        finally:
            await database.close()

    return asyncio.run(main())


def statement(cache: SchemaCache, fn: str, query: str = "",
              profile: str = "test_api") -> Statement:
    headers = {"accept-profile": profile}
    request = parse_request(HttpInput("GET", f"/rpc/{fn}", query, headers), fn, SCHEMAS)
    return call_statement(plan_call(request, cache, PlanConfig()))


def context(fn: str) -> RequestContext:
    return RequestContext.of("GET", f"/rpc/{fn}", {"x-test": "1"}, "test_api")


def test_call_switches_the_session_role_once_per_change(rpc_db: DbInfo) -> None:
    async def body(db: Database, cache: SchemaCache) -> list[str]:
        roles = []
        for auth in (ANON, ANON, WRITER):
            result = await db.call(statement(cache, "whoami"), auth, context("whoami"), cache)
            assert result.body is not None
            roles.append(json.loads(result.body)["current_user"])
        async with db.connection(WRITER, cache) as conn:
            assert conn.session_role == "writer"  # the proxy forwards to our connection
        return roles

    assert run(rpc_db, body) == ["web_anon", "web_anon", "writer"]


def test_role_settings_come_from_the_requests_snapshot(rpc_db: DbInfo) -> None:
    async def body(db: Database, cache: SchemaCache) -> tuple[str, str]:
        timeout_of = "select current_setting('statement_timeout')"
        edited = SchemaCache(
            functions=cache.functions,
            role_settings={**cache.role_settings, "writer": (("statement_timeout", "4321ms"),)},
            default_settings={**cache.default_settings, "statement_timeout": "0"},
            _session_settings={"writer": (("statement_timeout", "4321ms"),)},
        )
        async with db.connection(WRITER, edited) as conn:
            with_snapshot = await conn.fetchval(timeout_of)
        async with db.connection(ANON, edited) as conn:
            reset = await conn.fetchval(timeout_of)
        return with_snapshot, reset

    assert run(rpc_db, body) == ("4321ms", "0")


def test_a_streamed_result_outlives_the_statement_timeout_while_its_reader_pauses(
    rpc_db: DbInfo,
) -> None:
    """A large result streams as one COPY: one statement however long its client takes to
    read it. The role's statement timeout bounds PostgreSQL's work per chunk (as it did per
    FETCH of a cursor), never the time a reader holds the stream (the send timeout's job):
    a reader that pauses for longer than the whole timeout still gets every row. The pause
    is the slow reader under test, not a wait for something to happen."""
    rows = 300_000  # ~9 MB: far more than the socket buffers, so PostgreSQL waits too
    slow = (("statement_timeout", "1s"),)

    async def body(db: Database, cache: SchemaCache) -> tuple[int, int]:
        edited = SchemaCache(
            functions=cache.functions,
            role_settings={**cache.role_settings, "web_anon": slow},
            default_settings=cache.default_settings,
            _session_settings={"web_anon": slow},
        )
        parts = []
        async with db.stream(statement(edited, "big_set", f"n={rows}"), ANON,
                             context("big_set"), edited) as stream:
            chunks = stream.chunks()
            parts.append(await anext(chunks))
            await asyncio.sleep(2.5)
            parts.extend([chunk async for chunk in chunks])
        data = json.loads(b"".join(parts))
        return len(data), data[-1]["i"]

    assert run(rpc_db, body) == (rows, rows)


def test_a_read_is_retried_on_a_fresh_connection_after_a_drop(rpc_db: DbInfo) -> None:
    async def body(db: Database, cache: SchemaCache) -> bytes | None:
        async with db.connection(ANON, cache) as conn:
            pid = await conn.fetchval("select pg_backend_pid()")
        killer = await asyncpg.connect(rpc_db.dsn)
        try:
            await killer.execute("select pg_terminate_backend($1, 5000)", pid)
        finally:
            await killer.close()
        result = await db.call(statement(cache, "add", "a=1"), ANON, context("add"), cache)
        return result.body

    assert run(rpc_db, body) == b"11"


def test_a_planned_503_is_not_retried(rpc_db: DbInfo) -> None:
    runs = ("select count(*) from pg_locks where locktype = 'advisory' and classid = 7503"
            " and objsubid = 2")  # one more per run, held by the pooled session

    async def body(db: Database, cache: SchemaCache) -> tuple[int, int]:
        before = int(rpc_db.psql(runs))
        with pytest.raises(RaisedError) as info:
            await db.call(statement(cache, "unavailable_on_purpose", profile="test_api_v2"), ANON,
                          context("unavailable_on_purpose"), cache)
        assert (info.value.status, info.value.code) == (503, "PT503")
        return before, int(rpc_db.psql(runs))

    before, after = run(rpc_db, body)
    assert after == before + 1


def test_connections_go_to_waiting_requests_first_come_first_served(rpc_db: DbInfo) -> None:
    """A request arriving while a connection is handed back waits behind those already
    waiting. asyncpg's own queue let such a newcomer take the connection and sent the
    waiter it had woken to the back of the line (with newcomers one loop step late:
    ``w0, new0, w2, new2, w1, …``), so under load a few requests waited many turns: the
    small GET's p99 tail (docs/PERFORMANCE.md §1). Newcomers are started 0-5 loop steps
    after the connection's holder starts handing it back, to cover that window whatever
    the number of steps the hand-over takes."""

    async def order(db: Database, cache: SchemaCache, steps: int) -> list[str]:
        served: list[str] = []
        tasks: list[asyncio.Task[None]] = []

        async def newcomer(name: str) -> None:
            for _ in range(steps):
                await asyncio.sleep(0)  # one loop step
            async with db.connection(ANON, cache):
                served.append(name)

        async def waiter(i: int) -> None:
            async with db.connection(ANON, cache):  # the pool has one connection
                served.append(f"w{i}")
                tasks.append(asyncio.create_task(newcomer(f"new{i}")))

        holder_in, holder_out = asyncio.Event(), asyncio.Event()

        async def holder() -> None:
            async with db.connection(ANON, cache):
                holder_in.set()
                await holder_out.wait()

        held = asyncio.create_task(holder())
        await holder_in.wait()
        tasks.extend(asyncio.create_task(waiter(i)) for i in range(4))
        for _ in range(100):  # loop steps until all four are queued behind the holder
            if db.waiting == 4:
                break
            await asyncio.sleep(0)
        assert db.waiting == 4
        holder_out.set()
        await held
        while not all(t.done() for t in tasks):
            await asyncio.gather(*tasks)
        return served

    async def body(db: Database, cache: SchemaCache) -> dict[int, list[str]]:
        return {steps: await order(db, cache, steps) for steps in range(6)}

    fifo = ["w0", "w1", "w2", "w3", "new0", "new1", "new2", "new3"]
    assert run(rpc_db, body) == {steps: fifo for steps in range(6)}


def test_transaction_as_sets_the_request_gucs(rpc_db: DbInfo) -> None:
    async def body(db: Database, cache: SchemaCache) -> tuple[str, str]:
        async with db.transaction_as(WRITER, context("w"), cache) as conn:
            row = await conn.fetchrow("select current_setting('request.method'),"
                                      " current_setting('request.headers')")
        return row[0], row[1]

    assert run(rpc_db, body) == ("GET", '{"x-test":"1"}')


def test_broken_connection_states_are_connection_errors() -> None:
    for exc in (asyncpg_base.InternalClientError("cannot switch to state 12; another "
                                                 "operation is in progress"),
                asyncpg.ConnectionDoesNotExistError("connection was closed"),
                OSError("connection refused")):
        with pytest.raises(DbConnectionError) as info, map_db_errors(ANON):
            raise exc
        assert (info.value.status, info.value.headers["Retry-After"]) == (503, "1")
