"""Hostile input against the real app and a real PostgreSQL: size limits, malformed and
injected requests, forged tokens, pool exhaustion. (The per-role statement timeout is
tested in test_rpc_operations.py.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from api.config import Settings
from api.rpc.parse import MAX_LOGIC_DEPTH
from tests.api import hardening_db as hardening
from tests.api.apiserver import running_app
from tests.api.hardening_db import canary_intact
from tests.pgfixtures import DbInfo

SECRET = hardening.JWT_SECRET
MAX_BODY = 4096
MAX_URL = 2048


def settings_for(db: DbInfo, **overrides: Any) -> Settings:
    return hardening.settings(db, max_body_bytes=MAX_BODY, max_url_length=MAX_URL,
                              **overrides)


@pytest.fixture(scope="module")
def api(hardening_db: DbInfo) -> Iterator[httpx.Client]:
    with running_app(settings_for(hardening_db)) as url, httpx.Client(base_url=url) as client:
        yield client


def token(claims: dict[str, Any]) -> str:
    return jwt.encode({"exp": time.time() + 600, **claims}, SECRET, algorithm="HS256")


def bearer(claims: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(claims)}"}


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "details", "hint", "message"}
    if code is not None:
        assert body["code"] == code
    assert response.headers["content-type"] == "application/json; charset=utf-8"


def test_the_fixture_function_works(api: httpx.Client) -> None:
    response = api.get("/rpc/hardening_echo", params={"p_text": "hi"})
    assert response.status_code == 200, response.text
    assert response.json()["text"] == "hi"
    assert response.json()["role"] == "web_anon"


# --- size limits ---------------------------------------------------------------------


def test_oversized_body_is_413(api: httpx.Client) -> None:
    body = b'{"p_text": "' + b"x" * MAX_BODY + b'"}'
    response = api.post("/rpc/hardening_echo", content=body)
    assert_error(response, 413, "MRPC413")


def test_oversized_chunked_body_is_413(api: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"p_text": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    response = api.post("/rpc/hardening_echo", content=chunks())
    assert_error(response, 413, "MRPC413")


def test_body_just_under_the_limit_is_fine(api: httpx.Client) -> None:
    text = "y" * (MAX_BODY - 100)
    response = api.post("/rpc/hardening_echo", json={"p_text": text})
    assert response.status_code == 200, response.text
    assert response.json()["text"] == text


def test_huge_url_is_414(api: httpx.Client) -> None:
    response = api.get("/rpc/hardening_echo", params={"p_text": "z" * MAX_URL})
    assert_error(response, 414, "MRPC414")


def test_malformed_json_is_400(api: httpx.Client) -> None:
    for body in (b'{"p_text": ', b"{'p_text': 1}", b"\xff\xfe", b'{"p_text": "a"} trailing'):
        response = api.post(
            "/rpc/hardening_echo", content=body, headers={"Content-Type": "application/json"}
        )
        assert_error(response, 400, "PGRST102")


# --- SQL injection in every part of a request ----------------------------------------

DROP = "drop table public.canary"
# Were it ever run, the request would outlast the client's 5 s timeout and fail the test.
SLEEP = "pg_sleep(60)"


@pytest.mark.parametrize(
    ("method", "path", "params", "headers", "statuses"),
    [
        # function name
        ("GET", f"/rpc/hardening_echo;{DROP}", {}, {}, {404}),
        ("GET", f'/rpc/hardening_echo"();{DROP};--', {}, {}, {404}),
        ("GET", f"/rpc/hardening_echo(p_text:=(select {SLEEP}))", {}, {}, {404}),
        ("GET", "/rpc/api.hardening_echo", {}, {}, {404}),
        ("GET", "/rpc/pg_catalog.pg_sleep", {"seconds": "3"}, {}, {404}),
        ("GET", "/rpc/pg_sleep", {"": "3"}, {}, {404}),
        # argument names
        ("GET", "/rpc/hardening_echo", {f'p_text" := 1);{DROP};--': "1"}, {}, {404}),
        ("GET", "/rpc/hardening_echo", {f"p_text:=(select {SLEEP})": "1"}, {}, {404}),
        # select / order / limit / offset
        ("GET", "/rpc/hardening_rows", {"select": f"id,name);{DROP};--"}, {}, {400}),
        ("GET", "/rpc/hardening_rows", {"select": f"id,{SLEEP}"}, {}, {400}),
        ("GET", "/rpc/hardening_rows", {"select": 'id,"name"";drop"'}, {}, {400}),
        ("GET", "/rpc/hardening_rows", {"order": f"id;{DROP}"}, {}, {400}),
        ("GET", "/rpc/hardening_rows", {"order": f"(select {SLEEP})"}, {}, {400}),
        ("GET", "/rpc/hardening_rows", {"order": "id.asc,name.desc;--"}, {}, {400}),
        ("GET", "/rpc/hardening_rows", {"limit": f"1;{DROP}"}, {}, {400}),
        ("GET", "/rpc/hardening_rows", {"offset": f"(select {SLEEP})"}, {}, {400}),
        # filters
        ("GET", "/rpc/hardening_rows", {"id": f"eq.1;{DROP}"}, {}, {400}),
        ("GET", "/rpc/hardening_rows", {"id": f"eq.(select {SLEEP})"}, {}, {400}),
        ("GET", "/rpc/hardening_rows", {f"id);{DROP};--": "eq.1"}, {}, {400}),
        ("GET", "/rpc/hardening_rows", {"id": "gt.0)or(1=1"}, {}, {400}),
        ("GET", "/rpc/hardening_rows", {"or": f"(id.eq.1,{DROP})"}, {}, {400}),
        ("GET", "/rpc/hardening_rows", {"id": f"in.(1);{DROP};--"}, {}, {400}),
        # profile headers
        ("GET", "/rpc/hardening_echo", {}, {"Accept-Profile": f"api;{DROP}"}, {406}),
        ("GET", "/rpc/hardening_echo", {}, {"Accept-Profile": 'api"."x'}, {406}),
        ("POST", "/rpc/hardening_echo", {}, {"Content-Profile": f"public;{DROP}"}, {406}),
    ],
)
def test_injection_attempts_are_rejected_and_run_nothing(
    api: httpx.Client,
    hardening_db: DbInfo,
    method: str,
    path: str,
    params: dict[str, str],
    headers: dict[str, str],
    statuses: set[int],
) -> None:
    json_body = {} if method == "POST" else None
    response = api.request(method, path, params=params, headers=headers, json=json_body)
    assert response.status_code in statuses, (response.status_code, response.text)
    assert set(response.json()) == {"code", "details", "hint", "message"}
    assert canary_intact(hardening_db)


@pytest.mark.parametrize(
    "value",
    [
        f"'); {DROP}; --",
        f"'||(select {SLEEP})||'",
        "$$; drop table public.canary; $$",
        "\\'; drop table public.canary; --",
        "\uff44\uff52\uff4f\uff50 \uff3c' fullwidth",
    ],
)
def test_injection_in_argument_values_is_just_text(
    api: httpx.Client, hardening_db: DbInfo, value: str
) -> None:
    for response in (
        api.get("/rpc/hardening_echo", params={"p_text": value}),
        api.post("/rpc/hardening_echo", json={"p_text": value}),
    ):
        assert response.status_code == 200, response.text
        assert response.json()["text"] == value
    assert canary_intact(hardening_db)


def test_injection_in_json_keys(api: httpx.Client, hardening_db: DbInfo) -> None:
    response = api.post("/rpc/hardening_echo", json={f'p_text" := 1); {DROP}; --': "x"})
    assert_error(response, 404, "PGRST202")
    assert canary_intact(hardening_db)


def test_nul_byte_in_a_value_is_a_client_error(api: httpx.Client) -> None:
    response = api.post("/rpc/hardening_echo", json={"p_text": "a\u0000b"})
    assert 400 <= response.status_code < 500, response.text


# --- forged tokens -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["postgres", "authenticator", "pg_read_server_files", "nobody"])
def test_forged_roles_are_refused(api: httpx.Client, hardening_db: DbInfo, role: str) -> None:
    response = api.get("/rpc/hardening_echo", headers=bearer({"role": role}))
    assert response.status_code in (401, 403), response.text
    assert canary_intact(hardening_db)


def test_forged_signature_is_401(api: httpx.Client) -> None:
    forged = jwt.encode({"role": "writer"}, "x" * 64, algorithm="HS256")
    response = api.get("/rpc/hardening_echo", headers={"Authorization": f"Bearer {forged}"})
    assert_error(response, 401, "PGRST301")
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_alg_none_is_401(api: httpx.Client) -> None:
    unsigned = jwt.encode({"role": "writer"}, None, algorithm="none")
    response = api.get("/rpc/hardening_echo", headers={"Authorization": f"Bearer {unsigned}"})
    assert_error(response, 401, "PGRST301")


def test_expired_token_is_401(api: httpx.Client) -> None:
    expired = jwt.encode({"role": "writer", "exp": time.time() - 120}, SECRET, algorithm="HS256")
    response = api.get("/rpc/hardening_echo", headers={"Authorization": f"Bearer {expired}"})
    assert_error(response, 401, "PGRST303")
    assert 'error_description="JWT expired"' in response.headers["www-authenticate"]


def test_valid_writer_token_works(api: httpx.Client) -> None:
    response = api.get("/rpc/hardening_echo", headers=bearer({"role": "writer", "sub": "w"}))
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "writer"
    assert response.json()["claims"]["sub"] == "w"


# --- cost limits ---------------------------------------------------------------------


def wait_until_running(db: DbInfo, function: str, timeout: float = 10.0) -> None:
    """Until another session is running a statement that calls ``function``."""
    query = (
        "select count(*) from pg_stat_activity where state = 'active' "
        f"and pid <> pg_backend_pid() and query like '%{function}%'"
    )
    deadline = time.monotonic() + timeout
    while db.psql(query) == "0":
        assert time.monotonic() < deadline, f"{function} did not start within {timeout}s"
        time.sleep(0.05)  # poll interval


def test_pool_acquisition_timeout_is_504(hardening_db: DbInfo) -> None:
    settings = settings_for(hardening_db, db_pool=1, db_pool_acquisition_timeout=0.3)
    writer = bearer({"role": "writer"})
    with running_app(settings) as url:
        results: dict[str, httpx.Response] = {}

        def slow_call() -> None:
            results["slow"] = httpx.get(
                f"{url}/rpc/hardening_sleep", params={"p_seconds": "3"}, headers=writer,
                timeout=10,
            )  # fmt: skip

        thread = threading.Thread(target=slow_call)
        thread.start()
        wait_until_running(hardening_db, "hardening_sleep")  # the only connection is busy
        blocked = httpx.get(f"{url}/rpc/hardening_rows", timeout=10)
        thread.join(timeout=10)
    assert_error(blocked, 504, "PGRST003")
    assert blocked.json()["message"] == "Timed out acquiring connection from connection pool."
    assert results["slow"].status_code == 200


# --- parser limits -------------------------------------------------------------------


def test_deeply_nested_logic_tree_is_400(hardening_db: DbInfo) -> None:
    depth = 500  # raised RecursionError (500) before; the URL fits the default limit
    value = "(" + "and(" * depth + "id.eq.1" + ")" * depth + ")"
    with running_app(hardening.settings(hardening_db)) as url:
        response = httpx.get(f"{url}/rpc/hardening_rows", params={"or": value}, timeout=30)
    assert_error(response, 400, "PGRST100")
    assert "nest" in response.json()["details"]


def test_logic_tree_at_the_depth_limit_still_works(api: httpx.Client) -> None:
    depth = MAX_LOGIC_DEPTH - 1  # and the root or=(…) makes MAX_LOGIC_DEPTH
    value = "(" + "and(" * depth + "id.eq.2" + ")" * depth + ")"
    response = api.get("/rpc/hardening_rows", params={"or": value})
    assert response.status_code == 200, response.text
    assert response.json() == [{"id": 2, "name": "b"}]


def test_deeply_nested_json_body_is_400(hardening_db: DbInfo) -> None:
    depth = 5000
    body = b'{"p_text": ' + b"[" * depth + b"]" * depth + b"}"
    with running_app(hardening.settings(hardening_db)) as url:
        response = httpx.post(f"{url}/rpc/hardening_echo", content=body,
                              headers={"Content-Type": "application/json"}, timeout=30)
    assert_error(response, 400, "PGRST102")
