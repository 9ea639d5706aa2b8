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

import msgspec

from api.asgi import Message, Receive, Scope, Send, encode_headers, send_error, send_response
from api.cache.policy import caching_headers, etag_matches, not_modified_headers, policy_of
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

if TYPE_CHECKING:  # api.ratelimit and api.cache import this package
    from api.cache.response_cache import ResponseCache, StreamKeeper
    from api.cache.storage import CachedResponse
    from api.ratelimit import RequestRateLimiter

log = logging.getLogger("metrics_rpc")
ALLOW = "OPTIONS,GET,HEAD,POST"
PLANS_KEPT = 4096  # GET/HEAD plans kept per schema cache (all dropped when full)
STREAM_CUT_STATUS = 408  # recorded for a stream cut by the send timeout (the client saw 200)


class _Timer:
    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []
        self._last = time.perf_counter()

    def mark(self, stage: str) -> None:
        now = time.perf_counter()
        self.marks.append((stage, (now - self._last) * 1000))
        self._last = now

    def header(self, cache: str | None = None) -> str:
        marks = [f"{stage};dur={ms:.1f}" for stage, ms in self.marks]
        if cache is not None:
            marks.append(f"cache;desc={cache}")
        return ", ".join(marks)


class RpcPipeline:
    def __init__(
        self,
        settings: Settings,
        authenticator: Authenticator,
        cache: SchemaCacheHolder,
        db: Database,
        observability: Observability,
        rate_limiter: RequestRateLimiter | None = None,
        response_cache: ResponseCache | None = None,
    ) -> None:
        self.settings = settings
        self.response_cache = response_cache
        self._plans_of: SchemaCache | None = None
        self._plans: dict[tuple[str | None, ...], tuple[RpcRequest, CallPlan]] = {}
        # of the kept plans, by their id and whether the data token is read
        self._statements: dict[tuple[int, bool], Statement] = {}
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
            decision = await self.rate_limiter.decide(auth, scope)
            extra_headers += decision.header_items()
        body = await read_body(receive) if method == "POST" else b""
        http = HttpInput(method, path, scope.get("query_string", b"").decode("latin-1"),
                         headers, body)
        request, plan = self._parse_and_plan(http, name, cache, timer)
        context = RequestContext.of(method, path, headers, request.schema)
        if plan.streaming:
            kept = await self._kept_stream(request, plan, auth, timer)
            if not isinstance(kept, tuple):
                statement = self._statement(plan, data_token=kept is not None)
                status = await self._stream(send, request, statement, auth, context,
                                            cache, timer, extra_headers, kept)
                return plan.function.name, status
            status, out_headers, body, cache_outcome = kept
        else:
            status, out_headers, body, cache_outcome = await self._respond_call(
                request, plan, auth, context, cache, timer)
        if_none_match = headers.get("if-none-match")
        if if_none_match is not None and status == 200 and method in ("GET", "HEAD") and \
                etag_matches(if_none_match, next((v for n, v in out_headers if n == "etag"), None)):
            status, out_headers, body = 304, not_modified_headers(out_headers), b""
        elif method == "HEAD":  # no body, and no Content-Length for it, as PostgREST
            body = b""
            out_headers = [(n, v) for n, v in out_headers if n != "content-length"]
        out_headers.extend(extra_headers)
        if self.settings.server_timing_enabled:
            out_headers.append(("server-timing", timer.header(cache_outcome)))
        await send_response(send, status, out_headers, body)
        return plan.function.name, status

    def _parse_and_plan(self, http: HttpInput, name: str, cache: SchemaCache,
                        timer: _Timer) -> tuple[RpcRequest, CallPlan]:
        """Parse and plan. Both are pure, so a GET/HEAD's result is kept per schema cache,
        keyed by what they read (the request line, Accept, Accept-Profile, Prefer, Range):
        a repeated read, the response cache's hot path, skips both."""
        key: tuple[str | None, ...] | None = None
        if http.method in ("GET", "HEAD"):
            if self._plans_of is not cache:
                self._plans_of, self._plans, self._statements = cache, {}, {}
            h = http.headers
            key = (http.method, name, http.query_string, h.get("accept"),
                   h.get("accept-profile"), h.get("prefer"), h.get("range"))
            known = self._plans.get(key)
            if known is not None:
                timer.mark("plan")
                return known
        request = parse_request(http, name, self.settings.db_schemas)
        timer.mark("parse")
        plan = plan_call(request, cache, self.plan_config)
        timer.mark("plan")
        if key is not None:
            if len(self._plans) >= PLANS_KEPT:
                self._plans.clear()
                self._statements.clear()
            self._plans[key] = (request, plan)
            self._statements[id(plan), False] = call_statement(plan)  # rendered once, too
        return request, plan

    def _statement(self, plan: CallPlan, *, data_token: bool = False) -> Statement:
        """The plan's SQL (with the response cache's data token when asked): rendered when
        the plan was kept, else now (and kept with the plan)."""
        statement = self._statements.get((id(plan), data_token))
        if statement is None or statement.plan is not plan:
            statement = call_statement(plan, data_token=data_token)
            kept = self._statements.get((id(plan), False))
            if data_token and kept is not None and kept.plan is plan:
                self._statements[id(plan), True] = statement
        return statement

    async def _respond_call(
        self, request: RpcRequest, plan: CallPlan, auth: AuthResult,
        context: RequestContext, cache: SchemaCache, timer: _Timer,
    ) -> tuple[int, list[tuple[str, str]], bytes, str | None]:
        """From the response cache when the function's policy allows it, else by running
        the call: status, headers, the GET body, and the cache outcome (or ``None``)."""
        response_cache = self.response_cache
        policy = response_cache.policy_for(plan, request) if response_cache else None
        if response_cache is None or policy is None:
            status, headers, body, _ = await self._call(request, plan, auth, context, cache,
                                                        timer)
            return status, headers, body, None
        data_token = response_cache.usable  # else bypassed: no need to read it

        async def compute() -> CachedResponse:
            status, headers, body, token = await self._call(request, plan, auth, context,
                                                            cache, timer, data_token)
            return response_cache.entry(status, headers, body, policy.server_ttl, token)

        entry, outcome = await response_cache.fetch(plan, request, auth, policy, compute)
        headers = list(entry.headers)
        if outcome == "hit":
            timer.mark("cache")
            headers.append(("age", str(max(int(time.time() - entry.stored_at), 0))))
        return entry.status, headers, entry.body, outcome

    async def _kept_stream(
        self, request: RpcRequest, plan: CallPlan, auth: AuthResult, timer: _Timer,
    ) -> tuple[int, list[tuple[str, str]], bytes, str | None] | StreamKeeper | None:
        """A streamed read whose policy allows caching: the kept (or shared) answer when
        there is a valid one (a hit, sent whole with its ETag), else the keeper of this
        GET's stream (which shares it with concurrent misses when it is small enough to
        keep); ``None`` when it is not cached at all."""
        response_cache = self.response_cache
        policy = response_cache.policy_for(plan, request) if response_cache else None
        if response_cache is None or policy is None:
            return None
        entry, keeper = await response_cache.stream(plan, request, auth, policy)
        if entry is not None:
            timer.mark("cache")
            headers = [*entry.headers,
                       ("age", str(max(int(time.time() - entry.stored_at), 0)))]
            return entry.status, headers, entry.body, "hit"
        return keeper

    async def _call(
        self, request: RpcRequest, plan: CallPlan, auth: AuthResult,
        context: RequestContext, cache: SchemaCache, timer: _Timer, data_token: bool = False,
    ) -> tuple[int, list[tuple[str, str]], bytes, int | None]:
        """Run the call: status, headers and the body a GET would get (HEAD strips it
        when sending), with ETag / Cache-Control / Vary on a GET or HEAD 200, and the
        data token of its snapshot when asked for (for the response cache)."""
        result = await self.db.call(self._statement(plan, data_token=data_token), auth,
                                    context, cache)
        timer.mark("transaction")
        as_get = msgspec.structs.replace(request, method="GET") if request.method == "HEAD" \
            else request
        response = respond(
            as_get, plan, rows=result.rows, body=result.body, total=result.total,
            response_headers=result.response_headers, response_status=result.response_status,
            exposed_schemas=self.settings.db_schemas,
        )
        headers = response.headers
        if response.status == 200 and request.method in ("GET", "HEAD"):
            headers = caching_headers(headers, response.body,
                                      policy_of(plan.function.cache_control),
                                      authenticated=not auth.anonymous)
        timer.mark("response")
        return response.status, headers, response.body, result.data_token

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
        extra_headers: list[tuple[str, str]], keep: StreamKeeper | None = None,
    ) -> int:
        plan: CallPlan = statement.plan
        timeout = self.settings.send_timeout or None

        async def send_within_timeout(message: Message) -> None:
            # a client that stops reading must not hold the transaction (and its pooled
            # connection) open: past METRICS_RPC_SEND_TIMEOUT the stream is cut
            try:
                async with asyncio.timeout(timeout):  # no task a chunk, as wait_for
                    await send(message)
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
                policy = policy_of(plan.function.cache_control)
                if status == 200 and request.method in ("GET", "HEAD") and policy is not None:
                    # no ETag: the body is not known before it is sent (docs/CACHING.md)
                    headers = caching_headers(headers, None, policy,
                                              authenticated=not auth.anonymous)
                own_headers = headers
                headers = [*headers, *extra_headers]
                if self.settings.server_timing_enabled:
                    headers.append(("server-timing", timer.header("miss" if keep else None)))
                await send_within_timeout({"type": "http.response.start", "status": status,
                                           "headers": encode_headers(headers)})
                try:
                    if request.method != "HEAD":
                        async for chunk in stream.chunks():
                            if keep is not None:  # kept for the cache while it stays small
                                keep.add(chunk)
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
                if keep is not None:
                    await keep.finish(status, own_headers, stream.data_token)
                return status
        except _SendTimedOut:
            # returning with the response incomplete makes the server close the connection
            log.warning("/rpc/%s: the client read nothing for %ss, stream cut",
                        plan.function.name, self.settings.send_timeout)
            return STREAM_CUT_STATUS
        finally:
            if keep is not None:  # followers of a stream that did not finish run their own
                keep.abandon()


class _SendTimedOut(Exception):
    """A streamed chunk could not be handed to the client within the send timeout."""
