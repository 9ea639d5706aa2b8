"""Port of PostgREST's ``test/spec/Feature/RollbackSpec.hs``, the RPC cases of
``shouldRespondToReads`` ("responds to GET on RPC", "responds to POST on RPC") and
``shouldRaiseExceptions`` ("raises immediate constraints", "raises deferred constraints"),
under its three configurations:

- ``allowed``: "tx-allow-override = true" (PostgREST's base config, rollback by default):
  ``PGRST_DB_TX_END=rollback-allow-override``;
- ``disallowed``: "tx-rollback-all = false, tx-allow-override = false": ``commit``;
- ``forced``: "tx-rollback-all = true, tx-allow-override = false": ``rollback``.

The table mutations (``shouldPersistMutations``) are not about functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest

from tests.api.apiserver import ApiServer, running_api_server
from tests.api.postgrest_spec.conftest import BASE_SETTINGS

PREFER = {"default": ["return=representation"],
          "commit": ["return=representation", "tx=commit"],
          "rollback": ["return=representation", "tx=rollback"]}
# (config, Prefer) → the tx= value Preference-Applied carries (None: not checked, as the spec)
CASES = [
    ("rollback-allow-override", "default", None),
    ("rollback-allow-override", "commit", "tx=commit"),
    ("rollback-allow-override", "rollback", "tx=rollback"),
    ("commit", "default", None), ("commit", "commit", None), ("commit", "rollback", None),
    ("rollback", "default", None), ("rollback", "commit", None), ("rollback", "rollback", None),
]
IDS = [f"{config}-{prefer}" for config, prefer, _ in CASES]
DUPLICATE_KEY = {
    "hint": None, "details": "Key (col)=(1) already exists.", "code": "23505",
    "message": 'duplicate key value violates unique constraint '
    '"deferrable_unique_constraint_col_key"'}


@pytest.fixture(scope="module")
def servers(spec_server: ApiServer) -> Iterator[Callable[[str], httpx.Client]]:
    """A client of a server with ``PGRST_DB_TX_END=<config>``, started once per config."""
    clients: dict[str, httpx.Client] = {}
    with ExitStack() as stack:
        def client_for(config: str) -> httpx.Client:
            if config not in clients:
                assert spec_server.db is not None
                server = stack.enter_context(running_api_server(
                    spec_server.db, **{**BASE_SETTINGS, "db_tx_end": config}))
                clients[config] = stack.enter_context(server.client())
            return clients[config]
        yield client_for


def headers(prefer: str) -> list[tuple[str, str]]:
    return [("Prefer", value) for value in PREFER[prefer]]


def check_applied(r: httpx.Response, applied: str | None) -> None:
    if applied is not None:
        assert applied in r.headers.get("preference-applied", "")


# RollbackSpec.hs: shouldRespondToReads / it "responds to GET on RPC"
@pytest.mark.parametrize(("config", "prefer", "applied"), CASES, ids=IDS)
def test_rollback_spec__responds_to_get_on_rpc(
    servers: Callable[[str], httpx.Client], config: str, prefer: str, applied: str | None,
) -> None:
    r = servers(config).get("/rpc/search?id=1", headers=headers(prefer))
    assert (r.status_code, r.json()) == (200, [{"id": 1}])
    check_applied(r, applied)


# RollbackSpec.hs: shouldRespondToReads / it "responds to POST on RPC"
@pytest.mark.parametrize(("config", "prefer", "applied"), CASES, ids=IDS)
def test_rollback_spec__responds_to_post_on_rpc(
    servers: Callable[[str], httpx.Client], config: str, prefer: str, applied: str | None,
) -> None:
    r = servers(config).post("/rpc/search", json={"id": 1}, headers=headers(prefer))
    assert (r.status_code, r.json()) == (200, [{"id": 1}])
    check_applied(r, applied)


# RollbackSpec.hs: shouldRaiseExceptions / it "raises immediate constraints"
@pytest.mark.parametrize(("config", "prefer", "applied"), CASES, ids=IDS)
def test_rollback_spec__raises_immediate_constraints(
    servers: Callable[[str], httpx.Client], config: str, prefer: str, applied: str | None,
) -> None:
    r = servers(config).post("/rpc/raise_constraint", content=b"", headers=headers(prefer))
    assert (r.status_code, r.json()) == (409, DUPLICATE_KEY)
    assert "preference-applied" not in r.headers  # errors end before the transaction does


# RollbackSpec.hs: shouldRaiseExceptions / it "raises deferred constraints" (checked before a
# rollback too: SET CONSTRAINTS ALL IMMEDIATE, as PostgREST)
@pytest.mark.parametrize(("config", "prefer", "applied"), CASES, ids=IDS)
def test_rollback_spec__raises_deferred_constraints(
    servers: Callable[[str], httpx.Client], config: str, prefer: str, applied: str | None,
) -> None:
    r = servers(config).post("/rpc/raise_constraint", json={"deferred": True},
                             headers=headers(prefer))
    assert (r.status_code, r.json()) == (409, DUPLICATE_KEY)
    assert "preference-applied" not in r.headers
