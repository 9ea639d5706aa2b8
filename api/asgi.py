"""The plain ASGI types and the one way to send a whole response, for the raw ASGI parts
(``/rpc`` pipeline, request size limits) that sit outside Litestar's request handling."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from api.errors import ApiError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def encode_headers(headers: Sequence[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]


async def send_response(send: Send, status: int, headers: Sequence[tuple[str, str]],
                        body: bytes, *, head: bool = False) -> None:
    """Status line, ``headers`` as given (with Content-Length when it is due) and ``body``,
    which a HEAD response leaves out."""
    await send({"type": "http.response.start", "status": status,
                "headers": encode_headers(headers)})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def send_error(send: Send, error: ApiError, extra: Sequence[tuple[str, str]] = (),
                     *, head: bool = False) -> None:
    """``error`` as ``ApiError.render`` renders it (the one renderer), ``extra`` headers too."""
    rendered = error.render(extra)
    await send_response(send, rendered.status, rendered.headers, rendered.body, head=head)
