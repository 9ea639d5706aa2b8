"""The reference for the throughput benchmark: the least a Litestar + asyncpg app can do.

It runs the very SQL our API's body is built from, as one query per request on a pool of
the same size, with none of the API's work: no JWT, no role switch, no request GUCs, no
rate limit, no planning from a schema cache. It connects as the superuser because
``authenticator`` may not run API functions without a role switch.

Configured by ``BENCH_MINIMAL_DSN`` and ``PGRST_DB_POOL``; served by ``bench.serve``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from litestar import Litestar, Request, Response, get

# argument name → SQL type, for the few functions the benchmarks call
ARG_TYPES = {
    "p_schema": "text",
    "p_metric_name": "text",
    "p_interval": "interval",
    "p_from": "timestamptz",
    "p_to": "timestamptz",
}


def call_sql(function: str, arg_names: list[str]) -> str:
    """``select json_agg(...) from api.fn(a := $1::text::type, ...)``: the body in SQL."""
    args = ", ".join(f"{name} := ${i}::text::{ARG_TYPES[name]}"
                     for i, name in enumerate(arg_names, start=1))
    return f"select coalesce(json_agg(t), '[]')::text from api.{function}({args}) t"


@asynccontextmanager
async def _pool(app: Litestar) -> AsyncIterator[None]:
    size = int(os.environ.get("PGRST_DB_POOL", "10"))
    app.state.pool = await asyncpg.create_pool(
        os.environ["BENCH_MINIMAL_DSN"], min_size=size, max_size=size)
    try:
        yield
    finally:
        await app.state.pool.close()


@get("/rpc/{function:str}")
async def rpc(function: str, request: Request) -> Response[bytes]:  # type: ignore[type-arg]
    names = [k for k in request.query_params if k in ARG_TYPES]
    sql = call_sql(function, names)
    async with request.app.state.pool.acquire() as conn:
        body = await conn.fetchval(sql, *(request.query_params[k] for k in names))
    return Response(body.encode(), media_type="application/json")


@get("/")
async def root() -> dict[str, str]:
    return {"app": "minimal"}


def create_minimal_app() -> Litestar:
    return Litestar([rpc, root], lifespan=[_pool], openapi_config=None)
