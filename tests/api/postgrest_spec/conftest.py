"""Fixtures for the ports of PostgREST's spec (``test/spec/Feature/...`` in PostgREST's
repository): a fresh database per module with our own fixture functions of the same names
and shapes (``tests/api/sql/postgrest_spec_fixture.sql``, schema ``test``), served as
PostgREST's spec configures its base server (``PGRST_DB_TX_END=commit-allow-override``).

- ``spec_db``: the database; ``spec_server``: the API on it; ``client``: an ``httpx.Client``.
- ``start_spec_server(**settings)``: another server on ``spec_db`` with other settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.apiserver import ApiServer, running_api_server
from tests.pgfixtures import DbInfo

FIXTURE_SQL = Path(__file__).resolve().parent.parent / "sql" / "postgrest_spec_fixture.sql"
BASE_SETTINGS: dict[str, Any] = {"db_schemas": ("test",), "db_tx_end": "commit-allow-override"}


@pytest.fixture(scope="module")
def spec_db(make_db: Callable[..., DbInfo]) -> Iterator[DbInfo]:
    info = make_db("pgrst_spec")
    info.psql(FIXTURE_SQL.read_text())
    yield info
    info.drop()


@pytest.fixture(scope="module")
def spec_server(spec_db: DbInfo) -> Iterator[ApiServer]:
    with running_api_server(spec_db, **BASE_SETTINGS) as server:
        yield server


@pytest.fixture(scope="module")
def client(spec_server: ApiServer) -> Iterator[httpx.Client]:
    with spec_server.client() as c:
        yield c


@pytest.fixture
def start_spec_server(spec_db: DbInfo) -> Iterator[Callable[..., ApiServer]]:
    with ExitStack() as stack:

        def start(**overrides: Any) -> ApiServer:
            return stack.enter_context(
                running_api_server(spec_db, **{**BASE_SETTINGS, **overrides})
            )

        yield start
