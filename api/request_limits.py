"""Request size limits as an ASGI middleware: URL length (414) and body size (413).

Checked before the request reaches the pipeline: the URL from the request line, the body
from ``Content-Length`` when it is given, and, for chunked bodies, by counting bytes as the
application reads them (so an oversized body is never buffered whole).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp as LitestarASGIApp

from api.asgi import ASGIApp, Message, Receive, Scope, Send, send_error
from api.config import Settings
from api.errors import InvalidBody, PayloadTooLarge, UriTooLong


def url_length(scope: Scope) -> int:
    """Bytes of path plus query string, as they came on the request line."""
    raw_path = scope.get("raw_path") or str(scope.get("path", "")).encode()
    query = scope.get("query_string") or b""
    return len(raw_path) + (len(query) + 1 if query else 0)


class RequestLimitsMiddleware:
    """414 for a URL longer than ``max_url_length``, 413 for a body above ``max_body_bytes``."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_url_length: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_url_length = max_url_length

    @classmethod
    def from_settings(cls, settings: Settings) -> DefineMiddleware:
        """For Litestar's ``middleware=[...]``."""
        return DefineMiddleware(
            cast("Callable[..., LitestarASGIApp]", cls),  # our plain-dict ASGI types
            max_body_bytes=settings.max_body_bytes,
            max_url_length=settings.max_url_length,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope.get("method") == "HEAD"
        if self.max_url_length and url_length(scope) > self.max_url_length:
            await send_error(send, UriTooLong(self.max_url_length), head=head)
            return
        declared = _content_length(scope)
        if declared == -1:
            await send_error(send, InvalidBody("Invalid Content-Length header"), head=head)
            return
        if self.max_body_bytes and declared is not None and declared > self.max_body_bytes:
            await send_error(send, PayloadTooLarge(self.max_body_bytes), head=head)
            return
        if not self.max_body_bytes:
            await self.app(scope, receive, send)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise PayloadTooLarge(self.max_body_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except PayloadTooLarge as exc:  # the app did not handle it: answer here if we can
            if started:
                raise
            await send_error(send, exc, head=head)


def _content_length(scope: Scope) -> int | None:
    """The declared body size; None when absent, -1 when malformed."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return -1
            return length if length >= 0 else -1
    return None
