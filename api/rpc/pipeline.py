"""The request pipeline for ``/rpc/<name>``: auth → (rate limit) → parse → plan (and its
SQL, ``query``) → transaction → respond, each stage timed (``Server-Timing``). A raw ASGI
app mounted at ``/rpc`` by the app factory: it reads one request and writes one response.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import unquote

from api.asgi import Message, Receive, Scope, Send, encode_headers, send_error, send_response
from api.config import Settings
from api.errors import (
    AmbiguousRpc,
    ApiError,
    DatabaseUnavailable,
    InternalError,
    InvalidResourcePath,
    NoRpc,
    NoSchemaCache,
)
from api.http import RequestContext, read_body, scope_headers
from api.observability import DatabaseUnavailable as DatabaseUnavailableEvent
from api.observability import Observability, RequestFinished
from api.rpc.auth import Authenticator, AuthResult
from api.rpc.parse import HttpInput, RpcRequest, parse_request
from api.rpc.plan import CallPlan, PlanConfig, plan_call, resolve_function
from api.rpc.query import Statement, call_statement
from api.rpc.respond import head_for, respond
from api.rpc.schema_cache import SchemaCache, SchemaCacheHolder
from api.rpc.transaction import Database

if TYPE_CHECKING:  # api.ratelimit imports this package for AuthResult
    from api.ratelimit import RequestRateLimiter

log = logging.getLogger("metrics_rpc")
ALLOW = "OPTIONS,GET,HEAD,POST"
STREAM_CUT_STATUS = 408  # recorded for a stream cut by the send timeout (the client saw 200)


class _Timer:
    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []
        self._last = time.perf_counter()

    def mark(self, stage: str) -> None:
        now = time.perf_counter()
        self.marks.append((stage, (now - self._last) * 1000))
        self._last = now

    def header(self) -> str:
        return ", ".join(f"{stage};dur={ms:.1f}" for stage, ms in self.marks)


class RpcPipeline:
    def __init__(
        self,
        settings: Settings,
        authenticator: Authenticator,
        cache: SchemaCacheHolder,
        db: Database,
        observability: Observability,
        rate_limiter: RequestRateLimiter | None = None,
    ) -> None:
        self.settings = settings
        self.authenticator = authenticator
        self.cache = cache
        self.db = db
        self.observability = observability
        self.rate_limiter = rate_limiter
        self.plan_config = PlanConfig(
            max_rows=settings.db_max_rows,
            pre_request=settings.db_pre_request,
            tx_end=settings.db_tx_end,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        function = ""
        status = 500
        extra_headers: list[tuple[str, str]] = []
        head = scope.get("method") == "HEAD"
        try:
            function, status = await self._handle(scope, receive, send, extra_headers)
        except ApiError as error:
            status = error.status
            if isinstance(error, DatabaseUnavailable):
                self.observability.emit(
                    DatabaseUnavailableEvent(f"{error.code}: {error.details or error.message}")
                )
            await send_error(send, error, extra_headers, head=head)
        except Exception:
            log.exception("unexpected error in %s %s", scope.get("method"), scope.get("path"))
            status = 500
            await send_error(send, InternalError(), extra_headers, head=head)
        finally:
            self.observability.emit(
                RequestFinished(function, status, time.perf_counter() - started)
            )

    async def _handle(
        self, scope: Scope, receive: Receive, send: Send, extra_headers: list[tuple[str, str]]
    ) -> tuple[str, int]:
        timer = _Timer()
        method = scope["method"].upper()
        # mounted at /rpc: scope["path"] is the rest ("/name/"), raw_path the request's path
        name = scope.get("path", "").strip("/")
        raw_path = scope.get("raw_path")
        path = unquote(raw_path.decode("latin-1")) if raw_path else f"/rpc/{name}"
        if not name or "/" in name:
            raise InvalidResourcePath()
        cache = self.cache.current  # this request's snapshot, planned and run on it
        if cache is None:
            raise NoSchemaCache()
        headers = scope_headers(scope)
        if method == "OPTIONS":
            return await self._options(send, scope, name, path, headers, cache, timer)
        auth = self.authenticator.authenticate(headers.get("authorization"))
        timer.mark("jwt")
        if self.rate_limiter is not None:
            limit_headers = await self.rate_limiter.check(auth, scope)
            if limit_headers:
                extra_headers.extend((k.lower(), v) for k, v in limit_headers.items())
        body = await read_body(receive) if method == "POST" else b""
        http = HttpInput(method, path, scope.get("query_string", b"").decode("latin-1"),
                         headers, body)
        request = parse_request(http, name, self.settings.db_schemas)
        timer.mark("parse")
        plan = plan_call(request, cache, self.plan_config)
        statement = call_statement(plan)
        timer.mark("plan")
        context = RequestContext.of(method, path, headers, request.schema)
        if plan.streaming:
            status = await self._stream(send, request, statement, auth, context, cache, timer,
                                        extra_headers)
            return plan.function.name, status
        result = await self.db.call(statement, auth, context, cache)
        timer.mark("transaction")
        response = respond(
            request, plan, rows=result.rows, body=result.body, total=result.total,
            response_headers=result.response_headers, response_status=result.response_status,
            exposed_schemas=self.settings.db_schemas,
        )
        timer.mark("response")
        out_headers = [*response.headers, *extra_headers]
        if self.settings.server_timing_enabled:
            out_headers.append(("server-timing", timer.header()))
        await send_response(send, response.status, out_headers, response.body)
        return plan.function.name, response.status

    async def _options(
        self, send: Send, scope: Scope, name: str, path: str, headers: dict[str, str],
        cache: SchemaCache, timer: _Timer,
    ) -> tuple[str, int]:
        """PostgREST's ``RoutineInfoPlan``: the methods the function takes (a VOLATILE one
        only POST), found as a GET with the same query string would find it."""
        timer.mark("jwt")  # OPTIONS reads no token; the stage is still reported
        http = HttpInput("GET", path, scope.get("query_string", b"").decode("latin-1"),
                         headers)
        request = parse_request(http, name, self.settings.db_schemas)
        try:
            volatile = resolve_function(request, cache).volatility == "volatile"
        except (NoRpc, AmbiguousRpc):
            # without the arguments that pick one overload: what all of them take
            overloads = cache.overloads(request.schema, name)
            if not overloads:
                raise
            volatile = all(f.volatility == "volatile" for f in overloads)
        timer.mark("parse")
        allow = "OPTIONS,POST" if volatile else ALLOW
        out = [("allow", allow), ("access-control-allow-origin", "*"), ("content-length", "0")]
        timer.mark("response")
        if self.settings.server_timing_enabled:
            out.append(("server-timing", timer.header()))
        await send_response(send, 200, out, b"")
        return name, 200

    async def _stream(
        self, send: Send, request: RpcRequest, statement: Statement, auth: AuthResult,
        context: RequestContext, cache: SchemaCache, timer: _Timer,
        extra_headers: list[tuple[str, str]],
    ) -> int:
        plan: CallPlan = statement.plan
        timeout = self.settings.send_timeout or None

        async def send_within_timeout(message: Message) -> None:
            # a client that stops reading must not hold the transaction (and its pooled
            # connection) open: past METRICS_RPC_SEND_TIMEOUT the stream is cut
            try:
                await asyncio.wait_for(send(message), timeout)
            except TimeoutError:
                raise _SendTimedOut() from None

        try:
            async with self.db.stream(statement, auth, context, cache) as stream:
                timer.mark("transaction")
                status, headers = head_for(
                    request, plan, rows=None, total=None,
                    response_headers=stream.response_headers,
                    response_status=stream.response_status,
                    exposed_schemas=self.settings.db_schemas, has_body=True,
                )
                headers = [*headers, *extra_headers]
                if self.settings.server_timing_enabled:
                    headers.append(("server-timing", timer.header()))
                await send_within_timeout({"type": "http.response.start", "status": status,
                                           "headers": encode_headers(headers)})
                try:
                    if request.method != "HEAD":
                        async for chunk in stream.chunks():
                            await send_within_timeout({"type": "http.response.body",
                                                       "body": chunk, "more_body": True})
                except _SendTimedOut:
                    raise  # out of the transaction: rolled back, connection released
                except Exception:
                    # the status line is gone: all we can do is log and cut the body short
                    log.exception("streaming /rpc/%s failed after the response started",
                                  plan.function.name)
                    status = 500
                await send_within_timeout({"type": "http.response.body", "body": b""})
                return status
        except _SendTimedOut:
            # returning with the response incomplete makes the server close the connection
            log.warning("/rpc/%s: the client read nothing for %ss, stream cut",
                        plan.function.name, self.settings.send_timeout)
            return STREAM_CUT_STATUS


class _SendTimedOut(Exception):
    """A streamed chunk could not be handed to the client within the send timeout."""
