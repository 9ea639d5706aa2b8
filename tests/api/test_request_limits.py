"""api/request_limits.py as a plain ASGI middleware (no server, no database)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from api.asgi import Message, Receive, Scope, Send
from api.request_limits import RequestLimitsMiddleware, url_length

Sent = list[Message]


async def echo_body_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the whole body, answers with its length."""
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = json.dumps({"size": size}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def call(
    path: str = "/rpc/f",
    query: bytes = b"",
    chunks: tuple[bytes, ...] = (b"",),
    headers: tuple[tuple[bytes, bytes], ...] = (),
    method: str = "POST",
    max_body: int = 10,
    max_url: int = 50,
) -> tuple[int, dict[str, str], Any]:
    scope: Scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": list(headers),
    }
    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: Sent = []

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    app = RequestLimitsMiddleware(echo_body_app, max_body_bytes=max_body, max_url_length=max_url)
    asyncio.run(app(scope, receive, send))
    start = sent[0]
    response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], response_headers, json.loads(body) if body else None


def test_within_limits_passes() -> None:
    assert call(chunks=(b"12345", b"67890"))[::2] == (200, {"size": 10})


def test_declared_body_too_large_is_413_without_reading() -> None:
    status, headers, body = call(headers=((b"content-length", b"11"),), chunks=(b"x" * 11,))
    assert status == 413
    assert body["code"] == "MRPC413"
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["connection"] == "close"


def test_chunked_body_too_large_is_413() -> None:
    status, _, body = call(chunks=(b"123456", b"789012"))
    assert status == 413
    assert set(body) == {"code", "details", "hint", "message"}


def test_url_too_long_is_414() -> None:
    assert call(path="/rpc/" + "a" * 46)[0] == 414
    assert call(path="/rpc/" + "a" * 45)[0] == 200
    status, _, body = call(query=b"x=" + b"1" * 50)
    assert (status, body["code"]) == (414, "MRPC414")


def test_head_gets_no_body() -> None:
    status, _, body = call(path="/" + "a" * 60, method="HEAD")
    assert (status, body) == (414, None)


def test_malformed_content_length_is_400() -> None:
    status, _, body = call(headers=((b"content-length", b"ten"),))
    assert (status, body["code"]) == (400, "PGRST102")
    assert call(headers=((b"content-length", b"-1"),))[0] == 400


def test_zero_disables() -> None:
    status, _, body = call(chunks=(b"x" * 100,), max_body=0, max_url=0, path="/" + "a" * 99)
    assert (status, body) == (200, {"size": 100})


def test_url_length_counts_query() -> None:
    assert url_length({"raw_path": b"/rpc/f", "query_string": b"a=1"}) == len("/rpc/f?a=1")
    assert url_length({"path": "/x", "query_string": b""}) == 2


def test_non_http_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def noop_receive() -> Message:
        return {}

    async def noop_send(message: Message) -> None:
        return None

    middleware = RequestLimitsMiddleware(app, max_body_bytes=1, max_url_length=1)
    asyncio.run(middleware({"type": "lifespan"}, noop_receive, noop_send))
    assert seen == ["lifespan"]


def test_chunked_body_too_large_to_a_litestar_route_is_413() -> None:
    """``POST /api/v1/write`` reads its body through Litestar: the 413 raised while it reads
    is rendered by the app's ``ApiError`` handler, not turned into a 500."""
    from api.app import create_app
    from api.config import Settings

    app = create_app(Settings(max_body_bytes=10, rate_limits="off"))
    scope: Scope = {
        "type": "http", "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/api/v1/write", "raw_path": b"/api/v1/write", "query_string": b"",
        "root_path": "", "server": ("test", 80), "client": ("127.0.0.1", 1),
        "headers": [(b"content-type", b"application/x-protobuf"),
                    (b"transfer-encoding", b"chunked")],
    }
    pending: list[Message] = [
        {"type": "http.request", "body": b"123456", "more_body": True},
        {"type": "http.request", "body": b"789012", "more_body": False},
    ]
    sent: Sent = []

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    start = sent[0]
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert start["status"] == 413
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["connection"] == "close"
    assert body == {"code": "MRPC413", "details": "The request body exceeds 10 bytes",
                    "hint": None, "message": "Payload too large"}
