"""api/app.py: ``/rpc/<name>`` requests go straight to the pipeline (past Litestar's
router), behind the same request limits; anything unusual takes Litestar's route, which
mounts the same pipeline. Without a schema cache (no lifespan here) the pipeline answers
503 ``PGRST002``, whichever way the request came."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from api.app import create_app
from api.config import Settings


def call(path: str, *, host: bytes = b"localhost", **settings: Any) -> tuple[int, Any, Any]:
    """(status, body, the scope after the call) of a GET of ``path``."""
    app = create_app(Settings(rate_limits="off", **settings))
    raw_path, _, query = path.partition("?")
    scope: dict[str, Any] = {
        "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": raw_path, "raw_path": raw_path.encode(), "query_string": query.encode(),
        "root_path": "", "server": ("test", 80), "client": ("127.0.0.1", 1),
        "headers": [(b"host", host)],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return sent[0]["status"], json.loads(body) if body else None, scope


def test_rpc_requests_skip_litestars_router() -> None:
    status, body, scope = call("/rpc/get_latest_fdv?p_schema=mainnet")
    assert (status, body["code"]) == (503, "PGRST002")
    assert "route_handler" not in scope  # Litestar's router never saw it


def test_unusual_rpc_paths_take_litestars_route_to_the_same_pipeline() -> None:
    status, body, scope = call("/rpc//get_latest_fdv")
    assert (status, body["code"]) == (503, "PGRST002")
    assert "route_handler" in scope


def test_a_host_litestar_refuses_is_refused_on_rpc_too() -> None:
    status, _, _ = call("/rpc/get_latest_fdv", host=b"bad host\x01")
    assert status == 400


def test_the_fast_path_keeps_the_request_limits() -> None:
    status, body, _ = call("/rpc/" + "a" * 60, max_url_length=40)
    assert (status, body["code"]) == (414, "MRPC414")


def test_a_path_deeper_than_a_name_is_404_either_way() -> None:
    for path in ("/rpc/", "/rpc/a/b", "/rpc//a/b"):
        status, body, _ = call(path)
        assert (status, body["code"]) == (404, "PGRST125")
