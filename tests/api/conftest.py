"""Fixtures serving the real app over real HTTP (see ``tests/api/apiserver.py``).

- ``rpc_db``: a fresh database (per module) with the fixture functions of every shape in
  schemas ``test_api`` and ``test_api_v2`` (``tests/api/sql/rpc_fixture.sql``).
- ``api_server``: the API on ``rpc_db`` (module-scoped), exposing both schemas; has
  ``.base_url``, ``.db``, ``.settings``, ``.jwt_secret``, ``.writer_token``,
  ``.token(role, sub=…, **claims)`` and ``.client()`` (an ``httpx.Client``).
- ``hardening_db``: a fresh database (per module) with the hardening functions in ``api``
  and the ``public.canary`` table (``tests/api/hardening_db.py``); serve it with
  ``hardening_db.settings(db, **overrides)``.
- ``start_api_server(db, **settings_overrides)``: starts more servers with custom settings
  (``app_kwargs={"rate_limiter": …}`` for create_app arguments); stopped after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.api import hardening_db as hardening
from tests.api.apiserver import ApiServer, apply_rpc_fixture, running_api_server
from tests.pgfixtures import DbInfo


@pytest.fixture(scope="module")
def rpc_db(make_db: Callable[..., DbInfo]) -> Iterator[DbInfo]:
    info = make_db("rpc")
    apply_rpc_fixture(info)
    yield info
    info.drop()


@pytest.fixture(scope="module")
def hardening_db(make_db: Callable[..., DbInfo]) -> Iterator[DbInfo]:
    info = make_db("hardening")
    hardening.install(info)
    yield info
    info.drop()


@pytest.fixture(scope="module")
def api_server(rpc_db: DbInfo) -> Iterator[ApiServer]:
    with running_api_server(rpc_db) as server:
        yield server


@pytest.fixture
def start_api_server() -> Iterator[Callable[..., ApiServer]]:
    with ExitStack() as stack:

        def start(db: DbInfo, **overrides: Any) -> ApiServer:
            return stack.enter_context(running_api_server(db, **overrides))

        yield start
