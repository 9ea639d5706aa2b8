"""The Litestar app factory: wires the pieces together, holds no logic.

``create_app(settings)`` gives the API app: ``/rpc/<name>`` (the pipeline, a raw ASGI
mount), ``GET /`` (OpenAPI; the dashboard for a browser), ``/docs``, ``/dashboard``,
``POST /api/v1/write`` (remote write), and the admin routes ``/live``, ``/ready``, and
``/metrics`` unless ``PGRST_ADMIN_SERVER_PORT`` is set (then ``/metrics`` is only there).
``create_admin_app(runtime)`` serves only the admin routes (for
``PGRST_ADMIN_SERVER_PORT``). ``rate_limiter`` (default: from ``METRICS_RPC_RATE_LIMITS``)
is awaited after auth on every RPC call, and by ``POST /api/v1/write`` with its ``ingest``
budget. Every route gets its dependencies one way: built from the shared ``Runtime`` when
the app is created (``app.state.runtime`` is there for the admin app only).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, get
from litestar.exceptions import HTTPException, NotFoundException
from litestar.exceptions import MethodNotAllowedException as LitestarMethodNotAllowed
from litestar.handlers import asgi
from litestar.types import ControllerRouterHandler

from api.asgi import ASGIApp, Receive, Scope, Send
from api.cache import ResponseCache
from api.config import Settings
from api.dashboard import Dashboard, prefers_html
from api.errors import (
    JSON_CONTENT_TYPE,
    ApiError,
    HttpProtocolError,
    InvalidResourcePath,
    MethodNotAllowed,
    NoSchemaCache,
)
from api.ingest.remote_write import RemoteWrite, remote_write_route
from api.observability import PROMETHEUS_CONTENT_TYPE, Observability
from api.ratelimit import RequestRateLimiter
from api.request_limits import RequestLimitsMiddleware
from api.rpc import (
    DOCS_HTML,
    Authenticator,
    Database,
    RpcPipeline,
    SchemaCache,
    SchemaCacheHolder,
    SchemaCacheLoader,
    openapi_document,
    parse_profile,
)


class Runtime:
    """What the handlers share: settings, authenticator, cache, database, observability."""

    FIRST_LOAD_WAIT = 10.0  # seconds the port waits for the first schema-cache load

    def __init__(
        self, settings: Settings, rate_limiter: RequestRateLimiter | None = None
    ) -> None:
        self.settings = settings
        self.authenticator = Authenticator(settings)
        self.observability = Observability()
        if rate_limiter is not None:
            rate_limiter.attach_metrics(self.observability.registry)
        self.cache = SchemaCacheHolder()
        self.db = Database(settings)
        self.observability.watch_pool(self.db.pool_stats)
        if self.db.replicas:
            self.observability.watch_replicas(self.db.replica_stats)
        self.draining = False  # SIGTERM received: /ready is 503 while requests finish
        # the port opens once the first schema-cache load has succeeded or failed, so a
        # restarted replica behind a proxy does not answer 503 PGRST002 while it loads
        self._first_load = asyncio.Event()
        self.serving = asyncio.Event()  # start-up done: the port is about to open
        self.loader = SchemaCacheLoader(
            settings.db_uri, settings.db_schemas,
            settings.db_channel if settings.db_channel_enabled else None,
            self._on_cache_loaded, self._on_loader_event,
            statement_cache=settings.db_prepared_statements,
        )
        self.response_cache = (ResponseCache.from_settings(settings, self.observability)
                               if settings.cache_enabled else None)  # METRICS_RPC_CACHE
        self.pipeline = RpcPipeline(settings, self.authenticator, self.cache, self.db,
                                    self.observability, rate_limiter, self.response_cache)
        self.remote_write = RemoteWrite(settings, self.db, self.authenticator, self.cache,
                                        self.observability, rate_limiter)
        self._loader_task: asyncio.Task[None] | None = None
        self._versions_task: asyncio.Task[None] | None = None
        # GET /: the encoded document per (schema cache, profile); a reload replaces it
        self._openapi: tuple[SchemaCache | None, dict[str, bytes]] = (None, {})

    def _on_cache_loaded(self, cache: SchemaCache) -> None:
        self.cache.replace(cache)
        self._first_load.set()

    def _on_loader_event(self, event: Any) -> None:
        self.observability.emit(event)
        self._first_load.set()  # a failed connect or load: serve (503s) rather than wait

    def openapi(self, cache: SchemaCache, profile: str) -> bytes:
        if self._openapi[0] is not cache:
            self._openapi = (cache, {})
        documents = self._openapi[1]
        document = documents.get(profile)
        if document is None:
            document = documents[profile] = msgspec.json.encode(
                openapi_document(cache, profile, self.settings.openapi_server_proxy_uri)
            )
        return document

    @property
    def ready(self) -> bool:
        return (not self.draining and self.cache.current is not None
                and self.loader.connected)

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        await self.db.start()
        self._loader_task = asyncio.create_task(self.loader.run(), name="schema-cache-loader")
        if self.response_cache is not None:
            self._versions_task = asyncio.create_task(self.response_cache.run(),
                                                      name="data-version-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_load.wait(), self.FIRST_LOAD_WAIT)
        self.serving.set()
        try:
            yield
        finally:
            self.serving.clear()
            for task in (self._loader_task, self._versions_task):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            if self.response_cache is not None:
                await self.response_cache.close()
            await self.db.close()


# the Host values Litestar's router accepts (``litestar._asgi.utils``); others take its route
_PLAIN_HOST = re.compile(rb"\A[0-9A-Za-z!$&'()*+,;=\-._~:\[\]@%]*\Z")


class ApiApp(Litestar):
    """The Litestar app, with ``/rpc/<name>`` requests handed straight to the pipeline
    behind the same request limits. Litestar's routing, exception middleware and scope
    bookkeeping were ~10 % of a small GET's time and give the pipeline nothing: it answers
    its own errors. Anything unusual (a root path, ``//``, a Host Litestar refuses) takes
    Litestar's route, which mounts the same pipeline at ``/rpc``."""

    rpc: ASGIApp | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        rpc = self.rpc
        if rpc is not None and scope["type"] == "http":
            path: str = scope["path"]
            if (path.startswith("/rpc/") and "//" not in path and not scope.get("root_path")
                    and _plain_host(scope)):
                scope["path"] = path[4:]  # what the mount at /rpc passes on
                await rpc(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _plain_host(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"host":
            return _PLAIN_HOST.match(value) is not None
    return True


def _error_response(error: ApiError) -> Response[bytes]:
    """``ApiError.render`` (the one renderer) as a Litestar response."""
    rendered = error.render()
    headers = {k: v for k, v in rendered.headers
               if k not in ("content-type", "content-length")}
    return Response(rendered.body, status_code=rendered.status, headers=headers,
                    media_type=JSON_CONTENT_TYPE)


def _api_error(_request: Request[Any, Any, Any], exc: ApiError) -> Response[bytes]:
    """An ``ApiError`` raised in a route (or by the body-size limit while it reads)."""
    return _error_response(exc)


def _not_found(_request: Request[Any, Any, Any], _exc: Exception) -> Response[bytes]:
    return _error_response(InvalidResourcePath())


def _http_error(_request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    if isinstance(exc, LitestarMethodNotAllowed):
        return _error_response(MethodNotAllowed(str(exc.detail)))
    return _error_response(HttpProtocolError(exc.status_code, str(exc.detail)))


def _admin_handlers(runtime: Runtime, *, metrics: bool = True) -> list[ControllerRouterHandler]:
    @get("/live", sync_to_thread=False, include_in_schema=False)
    def live() -> Response[bytes]:
        return Response(b"", status_code=200)

    @get("/ready", sync_to_thread=False, include_in_schema=False)
    def ready() -> Response[bytes]:
        return Response(b"", status_code=200 if runtime.ready else 503)

    @get("/metrics", sync_to_thread=False, include_in_schema=False)
    def metrics_route() -> Response[bytes]:
        return Response(runtime.observability.exposition(), media_type=PROMETHEUS_CONTENT_TYPE)

    return [live, ready, metrics_route] if metrics else [live, ready]


def create_app(settings: Settings, *, rate_limiter: RequestRateLimiter | None = None) -> Litestar:
    if rate_limiter is None:  # METRICS_RPC_RATE_LIMITS (None when "off")
        rate_limiter = RequestRateLimiter.from_settings(settings)
    runtime = Runtime(settings, rate_limiter)

    @asgi("/rpc", is_mount=True, copy_scope=False)
    async def rpc(scope: Scope, receive: Receive, send: Send) -> None:
        await runtime.pipeline(scope, receive, send)

    dashboard = Dashboard()

    @get("/", sync_to_thread=False, include_in_schema=False)
    def root(request: Request[Any, Any, Any]) -> Response[bytes]:
        if prefers_html(request.headers.get("accept", "")):  # a browser: the dashboard
            return dashboard.page_response(request)
        cache = runtime.cache.current
        if cache is None:
            raise NoSchemaCache()
        profile = parse_profile("GET", request.headers, settings.db_schemas)  # 406 if unknown
        return Response(runtime.openapi(cache, profile), headers={"Vary": "Accept"},
                        media_type="application/openapi+json; charset=utf-8")

    @get("/docs", sync_to_thread=False, include_in_schema=False)
    def docs() -> Response[bytes]:
        return Response(DOCS_HTML, media_type="text/html; charset=utf-8")

    app = ApiApp(
        route_handlers=[rpc, root, docs, remote_write_route(runtime.remote_write),
                        *dashboard.handlers(),
                        # /metrics only on the admin port when there is one
                        *_admin_handlers(runtime, metrics=settings.admin_server_port is None)],
        middleware=[RequestLimitsMiddleware.from_settings(settings)],
        request_max_body_size=None,  # RequestLimitsMiddleware is the one body limit
        lifespan=[runtime.lifespan],
        exception_handlers={ApiError: _api_error, NotFoundException: _not_found,
                            HTTPException: _http_error},
        openapi_config=None,
        debug=False,
    )
    app.state.runtime = runtime
    app.rpc = RequestLimitsMiddleware(runtime.pipeline, max_body_bytes=settings.max_body_bytes,
                                      max_url_length=settings.max_url_length)
    return app


def create_admin_app(runtime: Runtime) -> Litestar:
    """Only ``/live``, ``/ready`` and ``/metrics``, sharing the API app's runtime."""
    return Litestar(route_handlers=_admin_handlers(runtime), openapi_config=None)
