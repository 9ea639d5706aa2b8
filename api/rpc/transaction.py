"""Stage 4 of the pipeline: run a plan as the request's role. The only stage using PostgreSQL.

Why one round trip is enough for a read, without giving up per-request role and GUCs:

* The role cannot be switched inside the statement that calls the function: PostgreSQL
  checks schema USAGE while parsing and EXECUTE/table privileges when the executor starts,
  i.e. before any ``set_config('role', …)`` in that statement runs (tested: "permission
  denied for schema api"). So each pooled connection carries a *session* role: when a
  request's role differs from the connection's, one extra statement switches it (and
  applies that role's ``ALTER ROLE … SET`` settings such as ``statement_timeout``, which
  ``SET ROLE`` does not apply, resetting the previous role's ones). With mostly anonymous
  traffic that extra round trip is rare. The pool's RESET-on-release (a round trip per
  request) is disabled for the same reason; we reset what we change ourselves.
* The request GUCs (``request.jwt.claims``, ``request.method``, …, ``search_path``) and
  read-only mode are set with ``set_config(…, true)`` by a one-time filter of the main
  statement (see ``plan._gate``): PostgreSQL evaluates it in a gating Result node before the
  function scan below it starts; ``is_local`` makes them last for the statement's implicit
  transaction. ``transaction_read_only`` may be switched *on* mid-transaction, and every
  statement inside the function checks it, so writes fail with 25006 → 405.
* The body is aggregated by PostgreSQL and returned as one ``bytea`` (no decoding in Python).

Writes (POST to a VOLATILE function), ``tx=rollback`` and streamed results use an explicit
transaction (BEGIN … COMMIT/ROLLBACK); streamed results read pre-rendered rows through a
server-side cursor in chunks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import asyncpg
import msgspec

from api.config import Settings
from api.errors import (
    ApiError,
    DbConnectionError,
    PoolTimeout,
    SingularityError,
    from_postgres_exception,
)
from api.rpc.auth import AuthResult
from api.rpc.plan import RESPONSE_GUCS, SET_CONTEXT, Plan
from api.rpc.schema_cache import SchemaCacheHolder

SWITCH_ROLE_SQL = "select set_config(n, v, false) from unnest($1::text[], $2::text[]) as u(n, v)"
SET_CONTEXT_SQL = f"select {SET_CONTEXT}"
RESPONSE_GUCS_SQL = f"select {RESPONSE_GUCS}"
STREAM_BATCH_ROWS = 5000
READ_RETRIES = 2  # a restart drops every pooled connection: a read may meet more than one
_CONNECTION_ERRORS = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
)


class RpcConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection that remembers which role its session is switched to."""

    session_role: str | None = None

    def get_reset_query(self) -> str:
        # we reset what we change ourselves (role, role settings); no round trip on release
        return ""


class RequestContext(msgspec.Struct, frozen=True):
    """What the transaction exposes to SQL as ``request.*`` GUCs."""

    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    cookies: Mapping[str, str]
    search_path: str

    def values(self, auth: AuthResult) -> tuple[str, str, str, str, str, str]:
        """$1-$6 of every plan: claims, method, path, headers, cookies, search_path."""
        return (
            auth.claims_json,
            self.method,
            self.path,
            msgspec.json.encode(self.headers).decode(),
            msgspec.json.encode(self.cookies).decode(),
            self.search_path,
        )


def search_path_for(schema: str) -> str:
    return '"' + schema.replace('"', '""') + '", "public"'


def parse_cookies(header: str | None) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, eq, value = part.strip().partition("=")
        if eq and name:
            cookies[name] = value
    return cookies


class CallResult(msgspec.Struct, frozen=True):
    rows: int  # rows of the page
    body: bytes | None
    total: int | None  # Prefer: count=exact
    response_headers: str | None  # the response.headers GUC as the function left it
    response_status: str | None


class ResultStream(msgspec.Struct):
    """A streamed result: the first batch is read, the rest comes from ``chunks()``."""

    response_headers: str | None
    response_status: str | None
    first: bytes
    cursor: Any
    separator: bytes
    suffix: bytes
    exhausted: bool

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self.first
        while not self.exhausted:
            rows = await self.cursor.fetch(STREAM_BATCH_ROWS)
            self.exhausted = len(rows) < STREAM_BATCH_ROWS
            if rows:
                yield self.separator + self.separator.join(r[0] for r in rows)
        yield self.suffix


class Database:
    """The connection pool of the authenticator role and the transactions run on it."""

    def __init__(self, settings: Settings, cache: SchemaCacheHolder) -> None:
        self.settings = settings
        self.cache = cache  # the role settings applied on a role switch
        self.pool: asyncpg.Pool | None = None
        self.waiting = 0  # requests waiting for a pooled connection

    async def start(self) -> None:
        # min_size=0: starting needs no database; the pool connects (and reconnects) on use
        self.pool = await asyncpg.create_pool(
            self.settings.db_uri,
            min_size=0,
            max_size=self.settings.db_pool,
            connection_class=RpcConnection,
            statement_cache_size=1024 if self.settings.db_prepared_statements else 0,
            max_inactive_connection_lifetime=300.0,
        )

    async def close(self) -> None:
        if self.pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pool.close(), 5)
            self.pool = None

    def pool_stats(self) -> tuple[int, int, int]:
        """(size, in use, waiting)."""
        if self.pool is None:
            return 0, 0, self.waiting
        size = self.pool.get_size()
        return size, size - self.pool.get_idle_size(), self.waiting

    # --- connections -----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def connection(self, auth: AuthResult) -> AsyncIterator[RpcConnection]:
        """A pooled connection whose session role is ``auth.role``; DB errors as ``ApiError``."""
        if self.pool is None:
            raise DbConnectionError("the connection pool is not started")
        self.waiting += 1
        try:
            conn = await self.pool.acquire(timeout=self.settings.db_pool_acquisition_timeout)
        except TimeoutError:
            raise PoolTimeout() from None
        except _CONNECTION_ERRORS as exc:
            raise DbConnectionError(str(exc) or type(exc).__name__) from None
        except asyncpg.PostgresError as exc:
            raise from_postgres_exception(exc, authenticated=not auth.anonymous) from None
        finally:
            self.waiting -= 1
        try:
            with map_db_errors(auth):
                raw: RpcConnection = conn._con if hasattr(conn, "_con") else conn
                if raw.session_role != auth.role:
                    await self._switch_role(conn, auth.role)
                    raw.session_role = auth.role
                yield conn
        finally:
            with contextlib.suppress(Exception):
                await self.pool.release(conn)

    async def _switch_role(self, conn: Any, role: str) -> None:
        cache = self.cache.current
        settings = cache.session_settings(role) if cache else ()
        names = ["role", *(n for n, _ in settings)]
        values = [role, *(v for _, v in settings)]
        await conn.fetch(SWITCH_ROLE_SQL, names, values)

    # --- running plans ---------------------------------------------------------------------

    async def call(self, plan: Plan, auth: AuthResult, context: RequestContext) -> CallResult:
        """Run a non-streaming plan; when read-only, retried up to ``READ_RETRIES`` times
        on a dropped connection."""
        args = (*context.values(auth), *plan.params)
        retries = READ_RETRIES if plan.read_only else 0
        while True:
            try:
                async with self.connection(auth) as conn:
                    return await self._call_on(conn, plan, args)
            except ApiError as error:
                # a pooled connection the server dropped (restart): reads try a fresh one
                if error.status != 503 or retries == 0:
                    raise
                retries -= 1

    async def _call_on(self, conn: Any, plan: Plan, args: Sequence[Any]) -> CallResult:
        if not plan.explicit_tx:
            row = await conn.fetchrow(plan.sql, *args)
            if plan.singular and row[0] != 1:
                raise SingularityError(row[0])
        else:
            tx = conn.transaction(readonly=plan.read_only)
            await tx.start()
            try:
                row = await conn.fetchrow(plan.sql, *args)
                if plan.singular and row[0] != 1:
                    raise SingularityError(row[0])
            except BaseException:
                await tx.rollback()
                raise
            if plan.rollback:
                await tx.rollback()
            else:
                await tx.commit()
        return CallResult(rows=row[0], body=row[1], total=row[2], response_headers=row[3],
                          response_status=row[4])

    @contextlib.asynccontextmanager
    async def stream(
        self, plan: Plan, auth: AuthResult, context: RequestContext
    ) -> AsyncIterator[ResultStream]:
        """Open a cursor on a streaming plan; the first batch is read before yielding."""
        args = (*context.values(auth), *plan.params)
        async with self.connection(auth) as conn:
            tx = conn.transaction(readonly=plan.read_only)
            await tx.start()
            try:
                cursor = await conn.cursor(plan.sql, *args)
                rows = await cursor.fetch(STREAM_BATCH_ROWS)
                guc_row = await conn.fetchrow(RESPONSE_GUCS_SQL)
                first = plan.stream_prefix + plan.stream_separator.join(r[0] for r in rows)
                yield ResultStream(
                    response_headers=guc_row[0], response_status=guc_row[1], first=first,
                    cursor=cursor, separator=plan.stream_separator, suffix=plan.stream_suffix,
                    exhausted=len(rows) < STREAM_BATCH_ROWS,
                )
            except BaseException:
                with contextlib.suppress(Exception):
                    await tx.rollback()
                raise
            if plan.rollback:
                await tx.rollback()
            else:
                await tx.commit()

    @contextlib.asynccontextmanager
    async def transaction_as(
        self, auth: AuthResult, context: RequestContext, *, read_only: bool = False
    ) -> AsyncIterator[Any]:
        """A connection in a transaction as ``auth.role`` with the request GUCs set.

        For other handlers (e.g. remote write ingest) that run their own SQL::

            async with db.transaction_as(auth, context) as conn:
                await conn.execute("select api.ingest($1)", payload)

        Commits when the block ends, rolls back on an exception; PostgreSQL errors come out
        as ``ApiError`` with PostgREST's status mapping.
        """
        async with (  # connection() maps the errors of the whole block
            self.connection(auth) as conn,
            conn.transaction(readonly=read_only),
        ):
            await conn.fetch(SET_CONTEXT_SQL, *context.values(auth))
            yield conn


@contextlib.contextmanager
def map_db_errors(auth: AuthResult) -> Any:
    """PostgreSQL and connection errors raised inside the block as ``ApiError``."""
    try:
        yield
    except ApiError:
        raise
    except _CONNECTION_ERRORS as exc:
        raise DbConnectionError(str(exc) or type(exc).__name__) from None
    except asyncpg.PostgresError as exc:
        raise from_postgres_exception(exc, authenticated=not auth.anonymous) from None
