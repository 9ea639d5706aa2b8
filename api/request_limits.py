"""Request limits, in two places.

* ``head_limited_protocol``: uvicorn's httptools protocol with limits on the request head,
  enforced while the bytes arrive (before the parser buffers them): request line and
  headers together at most ``METRICS_RPC_MAX_HEADER_BYTES`` (431; 414 while the request
  line is not even complete), a URL over ``METRICS_RPC_MAX_URL_LENGTH`` is a 414 as soon as
  it is seen, and a head not complete within ``METRICS_RPC_HEADER_TIMEOUT`` of its first
  byte (or of the connection) closes the connection (slowloris, half-open sockets).
* ``RequestLimitsMiddleware`` (ASGI): URL length (414, for any server) and body size (413):
  the body from ``Content-Length`` when it is given, and, for chunked bodies, by counting
  bytes as the application reads them (so an oversized body is never buffered whole).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar, cast

import httptools
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp as LitestarASGIApp
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from api.asgi import ASGIApp, Message, Receive, Scope, Send, send_error
from api.config import Settings
from api.errors import ApiError, HeadersTooLarge, InvalidBody, PayloadTooLarge, UriTooLong

# httptools.parse_url keeps offsets in 16 bits: a longer URL cannot be parsed at all
PARSEABLE_URL_LENGTH = 65535
LINGER_SECONDS = 2.0  # after a refusal: how long the rest of a request is read and dropped


class _Refused(Exception):
    """Raised in a parser callback to stop reading a head; never escapes the protocol."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


class HeadLimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the head limits above (class attributes set by
    ``head_limited_protocol``). State per connection: are we inside a request head, how
    many bytes of it came, has its request line ended, the header timer."""

    max_header_bytes: ClassVar[int] = 0  # 0 = no limit
    max_url_length: ClassVar[int] = PARSEABLE_URL_LENGTH
    header_timeout: ClassVar[float] = 0.0  # 0 = no timeout

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._line_done = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._discarding = False  # refused: what still comes is read and dropped

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        if self._in_head:
            self._arm_head_timer()
            limit = self.max_header_bytes
            if limit and self._head_bytes + len(data) > limit:
                fits = data[:limit - self._head_bytes]
                self._line_done = self._line_done or b"\n" in fits
                self._feed(fits)  # is the head complete within the limit?
                if self._discarding or self.transport.is_closing():
                    return
                if self._in_head:  # no: 414 while still in the request line, else 431
                    self._refuse(HeadersTooLarge(limit) if self._line_done
                                 else UriTooLong(self.max_url_length))
                    return
                data = data[len(fits):]
            else:
                self._head_bytes += len(data)
                self._line_done = self._line_done or b"\n" in data
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        """uvicorn's ``data_received``, plus the refusals raised in our callbacks."""
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, _Refused):
                self._refuse(exc.__context__.error)
                return
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.max_url_length:
            raise _Refused(UriTooLong(self.max_url_length))

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # what follows on this connection is the next request's head (counted from its
        # next read: the rest of this read, if any, is not)
        self._in_head, self._head_bytes, self._line_done = True, 0, False

    def _arm_head_timer(self) -> None:
        if self.header_timeout and self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self.transport.close()  # a slowloris gets no answer, just the end

    def _refuse(self, error: ApiError) -> None:
        """Answer ``error`` and close: the rest of the head is never read."""
        self._cancel_head_timer()
        body = error.body()
        lines = [STATUS_LINE[error.status]]
        for name, value in [*error.response_headers(), ("content-length", str(len(body)))]:
            if name != "connection":
                lines.append(f"{name}: {value}\r\n".encode("latin-1"))
        lines += [b"connection: close\r\n\r\n", body]
        self.transport.write(b"".join(lines))
        # lingering close: closing with unread input would send a reset that can destroy
        # the answer before the client reads it, so shut our side and discard the rest
        # for a moment (as nginx's lingering_close does)
        self._discarding = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


def head_limited_protocol(settings: Settings) -> type[HeadLimitedProtocol]:
    """The protocol class for ``uvicorn.Config(http=...)`` with ``settings``' limits."""
    max_url = min(settings.max_url_length or PARSEABLE_URL_LENGTH, PARSEABLE_URL_LENGTH)
    return type("HeadLimitedProtocol", (HeadLimitedProtocol,), {
        "max_header_bytes": settings.max_header_bytes,
        "max_url_length": max_url,
        "header_timeout": settings.header_timeout,
    })


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
