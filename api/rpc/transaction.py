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
  statement (see ``query._gate``): PostgreSQL evaluates it in a gating Result node before the
  function scan below it starts; ``is_local`` makes them last for the statement's implicit
  transaction. ``transaction_read_only`` may be switched *on* mid-transaction, and every
  statement inside the function checks it, so writes fail with 25006 → 405.
* The body is aggregated by PostgreSQL and returned as one ``bytea`` (no decoding in Python).

Writes (POST to a VOLATILE function), ``tx=rollback`` and streamed results use an explicit
transaction (BEGIN … COMMIT/ROLLBACK). A streamed *read* first runs its probe
(``Statement.probe_sql``: the call's own body over at most ``PROBE_ROWS + 1`` rows, one
round trip like a call): a small result is answered by it, and only a larger one is run
again from the start as one ``COPY (…) TO STDOUT`` in a transaction (one snapshot; the
request GUCs are set by a statement with bind parameters before it, COPY taking none). The
COPY's lines are rows PostgreSQL already rendered (JSON text or CSV); asyncpg hands them
over a network read at a time and stops reading while the client is slower, and each read
is forwarded after one ``replace`` of the line ends by the separator (no work per row in
Python; memory bounded by a read). The first line carries the response GUCs, read once
the first row exists, so the status and headers can be sent before the body.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import msgspec
from asyncpg.exceptions import _base as asyncpg_base

from api.config import Settings
from api.errors import (
    ApiError,
    DatabaseUnavailable,
    DbConnectionError,
    MaxAffectedViolation,
    PoolTimeout,
    SingularityError,
    from_postgres_exception,
)
from api.http import RequestContext
from api.replicas import PRIMARY_LSN_SQL, Replica, ReplicaSet
from api.rpc.auth import AuthResult
from api.rpc.query import (
    CONTEXT_PARAMS,
    PROBE_ROWS,
    RESPONSE_GUCS_SQL,
    RESPONSE_GUCS_TOKEN_SQL,
    SET_CONTEXT_SQL,
    STREAM_CONTEXT_SQL,
    SWITCH_ROLE_SQL,
    Statement,
    inline_params,
)
from api.rpc.schema_cache import SchemaCache

READ_RETRIES = 2  # a restart drops every pooled connection: a read may meet more than one
# Errors of the connection rather than of the statement: 503 with Retry-After, and the
# connection is not given back to the pool as it is. InternalClientError is asyncpg's
# "cannot switch to state …; another operation is in progress" on a broken connection.
_CONNECTION_ERRORS = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg_base.InternalClientError,
)


class RpcConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection that remembers which role its session is switched to."""

    session_role: str | None = None

    def get_reset_query(self) -> str:
        # we reset what we change ourselves (role, role settings); no round trip on release
        return ""

    async def switch_role(self, role: str, cache: SchemaCache | None) -> None:
        """Make ``role`` the session's role, with its ``ALTER ROLE … SET`` settings (and the
        previous role's reset); nothing when the session already is ``role``. Called through
        the pool's proxy, which forwards to this connection."""
        if self.session_role == role:
            return
        settings = cache.session_settings(role) if cache else ()
        names = ["role", *(n for n, _ in settings)]
        values = [role, *(v for _, v in settings)]
        self.session_role = None  # unknown until the switch has succeeded
        await self.fetch(SWITCH_ROLE_SQL, names, values)
        self.session_role = role


class CallResult(msgspec.Struct, frozen=True):
    rows: int  # rows of the page
    body: bytes | None
    total: int | None  # Prefer: count=exact
    response_headers: str | None  # the response.headers GUC as the function left it
    response_status: str | None
    data_token: int | None = None  # Statement.data_token: as of the call's snapshot


class ResultStream(msgspec.Struct):
    """A streamed result: ``first`` is read before the response starts, the rest comes
    from ``chunks()``."""

    response_headers: str | None
    response_status: str | None
    first: bytes
    rest: AsyncIterator[bytes] | None = None
    data_token: int | None = None  # Statement.data_token: as of the stream's snapshot

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self.first
        if self.rest is not None:
            async for chunk in self.rest:
                yield chunk


# a streamed body is sent in pieces of about this size (at most one more COPY chunk)
SEND_BYTES = 64 * 1024


class _End(msgspec.Struct, frozen=True):
    """The end of a COPY: ``error`` when it failed."""

    error: BaseException | None = None


class CopyOut:
    """``COPY (query) TO STDOUT`` on ``conn``, read chunk by chunk: the copy runs in a task
    that hands over one chunk at a time (asyncpg stops reading from PostgreSQL while a
    chunk waits), so memory holds about one network read, however large the result."""

    def __init__(self, conn: Any, query: str, chunk_timeout: float | None = None) -> None:
        self._queue: asyncio.Queue[bytes | _End] = asyncio.Queue(maxsize=1)
        # the role's statement timeout, per chunk PostgreSQL produces (STREAM_CONTEXT_SQL)
        self.chunk_timeout = chunk_timeout
        self.task = asyncio.create_task(self._run(conn, query))
        self.done = False  # the end was taken: the connection is ready for the next statement

    async def _run(self, conn: Any, query: str) -> None:
        try:
            await conn.copy_from_query(query, output=self._queue.put)
        except Exception as exc:  # handed to the reader, who raises it
            await self._queue.put(_End(exc))
        else:
            await self._queue.put(_End())

    async def next_chunk(self) -> bytes | None:
        """The next chunk (whole rows, each ended by a newline), None at the end; raises
        what the COPY raised, and 57014 (as PostgreSQL's statement timeout) when PostgreSQL
        took longer than ``chunk_timeout`` to produce it."""
        try:
            async with asyncio.timeout(self.chunk_timeout):  # no task a chunk, as wait_for
                item = await self._queue.get()
        except TimeoutError:
            raise asyncpg.exceptions.QueryCanceledError(
                "canceling statement due to statement timeout") from None
        if isinstance(item, _End):
            self.done = True
            await self.task
            if item.error is not None:
                raise item.error
            return None
        return item

    async def abort(self) -> None:
        """Stop a COPY the reader gave up on (cancels it in asyncpg; the caller drops the
        connection, which is mid-COPY)."""
        if not self.task.done():
            self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task


def copy_text(data: bytes) -> bytes:
    """COPY's text format undone for one column: backslash escapes (``\\\\``, ``\\n``, …)
    back to their bytes."""
    if b"\\" not in data:
        return data
    return codecs.escape_decode(data)[0]


def copy_rows(lines: bytes, separator: bytes) -> bytes:
    """Whole COPY lines (each ended by a newline) as rows joined by ``separator``: one
    ``replace`` for the lot (a newline inside a row is escaped by COPY, so every raw one
    ends a line), no work per row."""
    return copy_text(lines[:-1].replace(b"\n", separator))


async def _rest_of_copy(copy: CopyOut, statement: Statement) -> AsyncIterator[bytes]:
    """The body after its first piece: the chunks' rows, sent once ``SEND_BYTES`` have
    gathered (PostgreSQL flushes every 8 kB: one send each would cost a system call and a
    trip through the server per 8 kB), then the rest and the suffix."""
    separator = statement.stream_separator
    gathered: list[bytes] = []
    size = 0

    def piece() -> bytes:
        rows = separator + copy_rows(b"".join(gathered), separator) if gathered else b""
        gathered.clear()
        return rows

    while (chunk := await copy.next_chunk()) is not None:
        gathered.append(chunk)
        size += len(chunk)
        if size >= SEND_BYTES:
            yield piece()
            size = 0
    yield piece() + statement.stream_suffix


class Database:
    """The connection pools of the authenticator role (the primary's, and one per read
    replica) and the transactions run on them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool: asyncpg.Pool | None = None
        self.waiting = 0  # requests waiting for a pooled connection
        # PgBouncer transaction pooling (PGRST_DB_PREPARED_STATEMENTS=false): consecutive
        # transactions may run on different server sessions, so nothing is left in the
        # session: the role and its settings are SET LOCAL in every transaction
        self.local_role = not settings.db_prepared_statements
        cache_size = 1024 if settings.db_prepared_statements else 0
        self._pool_kwargs: dict[str, Any] = {
            "min_size": 0,  # starting needs no database; the pool connects on use
            "max_size": settings.db_pool,
            "connection_class": RpcConnection,
            "statement_cache_size": cache_size,
            "max_inactive_connection_lifetime": 300.0,
        }
        self.replicas = ReplicaSet(
            settings.db_read_uris, settings.db_uri, settings.db_replica_max_lag.seconds,
            self._create_pool, {"statement_cache_size": cache_size},
        )
        self.reads = {"primary": 0, "replica": 0}  # GET/HEAD calls by where they ran
        # a gate per pool (by id) with a place per connection: requests get connections
        # first come, first served. asyncpg's queue lets a request arriving while a
        # connection is handed back take it from the waiter that was woken, which then
        # queues again at the back: the p99 tail (docs/PERFORMANCE.md §1)
        self._gates: dict[int, asyncio.Semaphore] = {}

    async def _create_pool(self, uri: str) -> asyncpg.Pool:
        pool = await asyncpg.create_pool(uri, **self._pool_kwargs)
        self._gates[id(pool)] = asyncio.Semaphore(self.settings.db_pool)
        return pool

    async def start(self) -> None:
        self.pool = await self._create_pool(self.settings.db_uri)
        await self.replicas.start()

    async def close(self) -> None:
        await self.replicas.close()
        if self.pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pool.close(), 5)
            self.pool = None

    def pool_stats(self) -> tuple[int, int, int]:
        """(size, in use, waiting) of the primary's pool."""
        if self.pool is None:
            return 0, 0, self.waiting
        size = self.pool.get_size()
        return size, size - self.pool.get_idle_size(), self.waiting

    def replica_stats(self) -> tuple[list[tuple[str, bool, float]], dict[str, int]]:
        """((name, usable, lag seconds) per replica, reads by where they ran)."""
        max_lag = self.replicas.max_lag
        return ([(r.name, r.usable(max_lag, 0), r.lag) for r in self.replicas.replicas],
                dict(self.reads))

    # --- routing ---------------------------------------------------------------------------

    def _replica_for(self, statement: Statement, auth: AuthResult,
                     context: RequestContext) -> Replica | None:
        """A replica for GET/HEAD of a non-volatile function, or None: the primary."""
        if (not self.replicas or context.method not in ("GET", "HEAD")
                or statement.plan.function.volatility == "volatile"):
            return None
        replica = self.replicas.pick(client_key(auth))
        self.reads["primary" if replica is None else "replica"] += 1
        return replica

    async def _note_write(self, conn: Any, auth: AuthResult) -> None:
        """Read-your-writes: the client's reads need a replica past this WAL position."""
        if self.replicas:
            self.replicas.note_write(client_key(auth), await conn.fetchval(PRIMARY_LSN_SQL))

    # --- connections -----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def connection(
        self, auth: AuthResult, cache: SchemaCache | None, replica: Replica | None = None,
    ) -> AsyncIterator[RpcConnection]:
        """A pooled connection (the primary's, or ``replica``'s) whose session role is
        ``auth.role`` (with the role settings of ``cache``, the request's snapshot; in
        local-role mode the role is set by ``begin`` instead); DB errors come out as
        ``ApiError``."""
        pool = self.pool if replica is None else replica.pool
        if pool is None:
            raise DbConnectionError("the connection pool is not started")
        gate = self._gates[id(pool)]
        self.waiting += 1
        try:
            async with asyncio.timeout(self.settings.db_pool_acquisition_timeout):
                await gate.acquire()
                try:  # a place in the gate is a connection idle in the pool: no wait here
                    conn = await pool.acquire()
                except BaseException:
                    gate.release()
                    raise
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
                try:
                    if not self.local_role:
                        await conn.switch_role(auth.role, cache)
                    yield conn
                except _CONNECTION_ERRORS:
                    conn.terminate()  # broken: the pool opens a new one in its place
                    raise
        finally:
            try:
                with contextlib.suppress(Exception):
                    await pool.release(conn)
            finally:
                gate.release()

    async def begin(self, conn: Any, auth: AuthResult, cache: SchemaCache | None, *,
                    read_only: bool, repeatable_read: bool = False) -> None:
        """BEGIN, and in local-role mode SET LOCAL the role and its settings, in one round
        trip (a simple query: the values are the catalog's, quoted as literals)."""
        sql = "begin isolation level repeatable read" if repeatable_read else "begin"
        if read_only:
            sql += " read only"
        if self.local_role:
            sql += "; " + local_role_sql(auth.role, cache)
        await conn.execute(sql)

    # --- running statements ----------------------------------------------------------------

    async def call(self, statement: Statement, auth: AuthResult, context: RequestContext,
                   cache: SchemaCache | None) -> CallResult:
        """Run a non-streaming statement. A read is retried up to ``READ_RETRIES`` times
        when the database was unavailable (a pooled connection the server dropped); a read
        that a replica failed is retried elsewhere (the primary when no replica is left);
        an error the function raised on purpose (``PT503``) is never retried."""
        args = (*context.values(auth.claims_json), *statement.params)
        retries = READ_RETRIES if statement.plan.read_only else 0
        while True:
            replica = self._replica_for(statement, auth, context)
            try:
                async with self.connection(auth, cache, replica) as conn:
                    return await self._call_on(conn, statement, args, auth, cache)
            except DatabaseUnavailable:
                if replica is not None:
                    self.replicas.mark_down(replica)
                    continue
                if retries == 0:
                    raise
                retries -= 1

    async def _call_on(self, conn: Any, statement: Statement, args: Sequence[Any],
                       auth: AuthResult, cache: SchemaCache | None) -> CallResult:
        plan = statement.plan
        if not plan.explicit_tx and not self.local_role:
            row = await conn.fetchrow(statement.sql, *args)
            if plan.singular and row[0] != 1:
                raise SingularityError(row[0])
            if plan.max_affected is not None and row[0] > plan.max_affected:
                raise MaxAffectedViolation(row[0])
        else:
            await self.begin(conn, auth, cache, read_only=plan.read_only)
            try:
                row = await conn.fetchrow(statement.sql, *args)
                if plan.singular and row[0] != 1:
                    raise SingularityError(row[0])
                if plan.max_affected is not None and row[0] > plan.max_affected:
                    raise MaxAffectedViolation(row[0])  # and the writes are rolled back
                if plan.rollback:  # deferred constraints are still checked, as PostgREST
                    await conn.execute("set constraints all immediate")
            except BaseException:
                with contextlib.suppress(Exception):
                    await conn.execute("rollback")
                raise
            await conn.execute("rollback" if plan.rollback else "commit")
            if not plan.read_only and not plan.rollback:
                await self._note_write(conn, auth)
        return CallResult(rows=row[0], body=row[1], total=row[2], response_headers=row[3],
                          response_status=row[4],
                          data_token=row[5] if statement.data_token else None)

    @contextlib.asynccontextmanager
    async def stream(
        self, statement: Statement, auth: AuthResult, context: RequestContext,
        cache: SchemaCache | None,
    ) -> AsyncIterator[ResultStream]:
        """Start a streaming statement (its probe, else its COPY); the status-deciding
        first piece is read before yielding.
        A replica that cannot be reached is skipped before the stream starts."""
        args = (*context.values(auth.claims_json), *statement.params)
        async with contextlib.AsyncExitStack() as stack:
            while True:
                replica = self._replica_for(statement, auth, context)
                try:
                    stream = await stack.enter_async_context(
                        self._stream_on(replica, statement, args, auth, cache)
                    )
                    break
                except DatabaseUnavailable:
                    if replica is None:
                        raise
                    self.replicas.mark_down(replica)
            yield stream

    @contextlib.asynccontextmanager
    async def _stream_on(
        self, replica: Replica | None, statement: Statement, args: Sequence[Any],
        auth: AuthResult, cache: SchemaCache | None,
    ) -> AsyncIterator[ResultStream]:
        plan = statement.plan
        async with self.connection(auth, cache, replica) as conn:
            if statement.probe_sql is not None:
                probe = await self._probe(conn, statement, args, auth, cache)
                if probe is not None:
                    yield probe
                    return
            # with no rows the data token is read after the COPY: one snapshot for both
            await self.begin(conn, auth, cache, read_only=plan.read_only,
                             repeatable_read=statement.data_token)
            try:  # the request GUCs, bound: no token inlined into the COPY's text
                context_row = await conn.fetchrow(STREAM_CONTEXT_SQL, *args[:CONTEXT_PARAMS])
            except BaseException:
                with contextlib.suppress(Exception):
                    await conn.execute("rollback")
                raise
            timeout = context_row[CONTEXT_PARAMS] or None  # 0: no statement timeout
            copy = CopyOut(conn, inline_params(statement.sql, args), timeout)
            try:
                yield await self._stream_head(conn, copy, statement)
            except BaseException:
                if copy.done:
                    with contextlib.suppress(Exception):
                        await conn.execute("rollback")
                else:  # mid-COPY: stop it and drop the connection (the pool replaces it)
                    await copy.abort()
                    conn.terminate()
                raise
            if not copy.done:  # not read to the end (HEAD): nothing was written, drop it
                await copy.abort()
                conn.terminate()
                return
            await conn.execute("rollback" if plan.rollback else "commit")
            if not plan.read_only and not plan.rollback:
                await self._note_write(conn, auth)

    async def _stream_head(self, conn: Any, copy: CopyOut, statement: Statement) -> ResultStream:
        """The response GUCs, which lead the COPY's first line (read once the first row is
        there: the function has run), and the first piece of the body; with no rows the
        COPY ends first and the GUCs are read by a statement of their own."""
        data = b""
        while (chunk := await copy.next_chunk()) is not None:
            data += chunk
            mark = data.find(b"\x01")
            if mark >= 0:
                head = msgspec.json.decode(copy_text(data[:mark]))
                first = (statement.stream_prefix + statement.stream_first_separator
                         + copy_rows(data[mark + 1:], statement.stream_separator))
                return ResultStream(head[0], head[1], first, _rest_of_copy(copy, statement),
                                    data_token=head[2] if statement.data_token else None)
        if statement.data_token:
            headers, status, token = await conn.fetchrow(RESPONSE_GUCS_TOKEN_SQL)
        else:
            (headers, status), token = await conn.fetchrow(RESPONSE_GUCS_SQL), None
        return ResultStream(headers, status, statement.stream_prefix + statement.stream_suffix,
                            data_token=token)

    async def _probe(self, conn: Any, statement: Statement, args: Sequence[Any],
                     auth: AuthResult, cache: SchemaCache | None) -> ResultStream | None:
        """A streamed read's whole answer in one round trip when it has at most
        ``PROBE_ROWS`` rows (in local-role mode inside BEGIN … COMMIT, as ``call``); None
        when it has more: the caller then streams it from the start, in a transaction of
        its own (so the answer is still one snapshot; the probe's rows are dropped)."""
        assert statement.probe_sql is not None
        args = args[:CONTEXT_PARAMS + statement.probe_params]
        if self.local_role:
            await self.begin(conn, auth, cache, read_only=True)
            try:
                row = await conn.fetchrow(statement.probe_sql, *args)
            except BaseException:
                with contextlib.suppress(Exception):
                    await conn.execute("rollback")
                raise
            await conn.execute("commit")
        else:
            row = await conn.fetchrow(statement.probe_sql, *args)
        if row[0] > PROBE_ROWS:
            return None
        return ResultStream(response_headers=row[2], response_status=row[3], first=row[1],
                            data_token=row[4] if statement.data_token else None)

    @contextlib.asynccontextmanager
    async def transaction_as(
        self, auth: AuthResult, context: RequestContext, cache: SchemaCache | None, *,
        read_only: bool = False,
    ) -> AsyncIterator[Any]:
        """A connection in a transaction as ``auth.role`` with the request GUCs set, on the
        primary.

        For other handlers (e.g. remote write ingest) that run their own SQL::

            async with db.transaction_as(auth, context, cache) as conn:
                await conn.execute("select api.ingest($1)", payload)

        Commits when the block ends, rolls back on an exception; PostgreSQL errors come out
        as ``ApiError`` with PostgREST's status mapping.
        """
        async with self.connection(auth, cache) as conn:  # maps the errors of the block
            await self.begin(conn, auth, cache, read_only=read_only)
            try:
                await conn.fetch(SET_CONTEXT_SQL, *context.values(auth.claims_json))
                yield conn
            except BaseException:
                with contextlib.suppress(Exception):
                    await conn.execute("rollback")
                raise
            await conn.execute("commit")
            if not read_only:
                await self._note_write(conn, auth)


def client_key(auth: AuthResult) -> str:
    """Whose writes a read must see: the JWT ``sub``, else the token's claims."""
    return f"sub:{auth.sub}" if auth.sub is not None else auth.claims_json


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def local_role_sql(role: str, cache: SchemaCache | None) -> str:
    """``SET LOCAL`` of ``role`` and its ``ALTER ROLE … SET`` settings, as one statement."""
    settings = cache.session_settings(role) if cache else ()
    calls = ", ".join(f"set_config({quote_literal(name)}, {quote_literal(value)}, true)"
                      for name, value in (("role", role), *settings))
    return f"select {calls}"


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
