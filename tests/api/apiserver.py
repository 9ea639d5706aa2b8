"""The real app over real HTTP for tests: uvicorn (uvloop + httptools) in a background
thread on a free port, against a test database. Used through the fixtures in
``tests/api/conftest.py``; reusable by any test that needs the running API.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import uvicorn

from api.app import create_app
from api.config import Settings
from api.pgcluster import free_port
from api.server import uvicorn_config
from api.tokens import mint_token
from tests.pgfixtures import DbInfo

JWT_SECRET = "test-secret-for-the-api-tests-0123456789abcdef"
RPC_FIXTURE_SQL = Path(__file__).resolve().parent / "sql" / "rpc_fixture.sql"


class ApiServer:
    """A running API: ``base_url``, ``db``, ``settings``, ``token(role, **claims)``, ``app``."""

    def __init__(
        self, db: DbInfo | None, settings: Settings, app_kwargs: dict[str, Any]
    ) -> None:
        self.db = db
        self.settings = settings
        self.jwt_secret = settings.jwt_secret or ""
        self.port = settings.server_port
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings, **app_kwargs)
        config = uvicorn_config(self.app, "127.0.0.1", self.port, settings)  # as in production
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True,
                                        name=f"api-{self.port}")

    @property
    def writer_token(self) -> str:
        return self.token("writer", sub="test-writer")

    def token(self, role: str = "writer", *, sub: str | None = None, **claims: Any) -> str:
        return mint_token(self.settings, role, sub=sub, extra=claims)

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, **kwargs)

    def start(self, *, wait_ready: bool = True, timeout: float = 30.0) -> ApiServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        if wait_ready:
            self.wait_ready(deadline - time.monotonic())
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/ready", timeout=2).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError("the API did not become ready (schema cache not loaded?)")

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(15)


def api_settings(db: DbInfo, **overrides: Any) -> Settings:
    """Settings for a test server on ``db``: free port, test secret, fixture schemas."""
    values: dict[str, Any] = {
        "db_uri": db.authenticator_dsn,
        "db_schemas": ("test_api", "test_api_v2"),
        "jwt_secret": JWT_SECRET,
        "server_port": free_port(),
        "server_host": "127.0.0.1",
        "rate_limits": "off",
        "db_pool": 4,
    }
    values.update(overrides)
    return Settings(**values)


@contextlib.contextmanager
def running_api_server(
    db: DbInfo, *, app_kwargs: dict[str, Any] | None = None, wait_ready: bool = True,
    **overrides: Any,
) -> Iterator[ApiServer]:
    """An API server on ``db`` for the duration of the block (Settings ``overrides``)."""
    server = ApiServer(db, api_settings(db, **overrides), app_kwargs or {})
    server.start(wait_ready=wait_ready)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def serving(
    settings: Settings, *, db: DbInfo | None = None, **app_kwargs: Any
) -> Iterator[ApiServer]:
    """``create_app(settings, **app_kwargs)`` served on a free port for the duration of the
    block, once ``/ready``. ``db``, when given, is the test database behind ``settings``
    (``server.db``)."""
    settings = msgspec.structs.replace(settings, server_port=free_port())
    server = ApiServer(db, settings, app_kwargs).start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def running_app(settings: Settings, **app_kwargs: Any) -> Iterator[str]:
    """Like ``serving``, yielding only the base URL."""
    with serving(settings, **app_kwargs) as server:
        yield server.base_url


def apply_rpc_fixture(db: DbInfo) -> None:
    """The fixture functions of every shape (schemas ``test_api`` and ``test_api_v2``)."""
    db.psql(RPC_FIXTURE_SQL.read_text())
