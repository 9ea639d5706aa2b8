"""Round trips per RPC call: the one-statement plan vs BEGIN/set_config/call/COMMIT.

Prints requests per second for a tiny function, straight over asyncpg (no HTTP), with
CONCURRENCY tasks on a pool of as many connections, for a few seconds each:

* ``bare``: ``select test_api.add($1)``, no role or GUCs (the floor);
* ``plan``: the statement ``api.rpc.query`` renders (GUCs + read-only in a gating one-time
  filter, body built in SQL), on connections already switched to the role: 1 round trip;
* ``four``: BEGIN READ ONLY; SET LOCAL ROLE + GUCs via set_config; the call; COMMIT.

Usage: ``.venv/bin/python -m bench.rpc_roundtrips [seconds]``. Not a test: no assertions.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

from api.pgcluster import ThrowawayCluster
from api.rpc.parse import HttpInput, parse_request
from api.rpc.plan import PlanConfig, plan_call
from api.rpc.query import call_statement
from api.rpc.schema_cache import load_schema_cache

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 16
CONTEXT = ('{"role":"web_anon"}', "GET", "/rpc/add", '{"accept":"*/*"}', "{}",
           '"test_api", "public"')


async def _loop(pool: asyncpg.Pool, seconds: float, call: Any) -> int:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            async with pool.acquire() as conn:
                await call(conn)
            done += 1

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return done


async def main(seconds: float) -> None:
    cluster = ThrowawayCluster(ROOT / ".data" / "bench-rpc").start()
    if not cluster.database_exists("bench"):
        cluster.createdb("bench")
        conn = await asyncpg.connect(cluster.dsn("bench"))
        await conn.execute((ROOT / "sql/migrations/0001_roles.up.sql").read_text())
        await conn.execute((ROOT / "tests/api/sql/rpc_fixture.sql").read_text())
        await conn.close()
    dsn = cluster.dsn("bench", user="authenticator")

    async def init(conn: asyncpg.Connection) -> None:
        await conn.execute("set role web_anon")

    pool = await asyncpg.create_pool(dsn, min_size=CONCURRENCY, max_size=CONCURRENCY,
                                     init=init, reset=lambda _c: asyncio.sleep(0))
    loader = await asyncpg.connect(dsn)
    cache = await load_schema_cache(loader, ["test_api"])
    await loader.close()
    request = parse_request(HttpInput("GET", "/rpc/add", "a=1", {}), "add", ["test_api"])
    statement = call_statement(plan_call(request, cache, PlanConfig()))
    args = (*CONTEXT, *statement.params)

    async def bare(conn: Any) -> None:
        await conn.fetchval("select test_api.add($1)", 1)

    async def one(conn: Any) -> None:
        await conn.fetchrow(statement.sql, *args)

    async def four(conn: Any) -> None:
        async with conn.transaction(readonly=True):
            await conn.fetchrow(
                "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true),"
                " set_config('request.method', $3, true), set_config('request.path', $4, true),"
                " set_config('request.headers', $5, true)", "web_anon", *CONTEXT[:4])
            await conn.fetchrow("select to_json(test_api.add(a := $1))::text", 1)

    for name, call in (("bare", bare), ("plan", one), ("four", four)):
        await _loop(pool, 0.5, call)  # warm up: prepared statements, caches
        count = await _loop(pool, seconds, call)
        print(f"{name:5s} {count / seconds:8.0f} calls/s")
    await pool.close()
    cluster.stop()


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0))
