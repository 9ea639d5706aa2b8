"""The one HTTP request layer shared by every route that runs SQL for a client (``/rpc``
and ``/api/v1/write``): headers, body and cookies of an ASGI request, and the
``RequestContext`` a transaction exposes to SQL as ``request.*`` GUCs."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from api.asgi import Receive, Scope


def scope_headers(scope: Scope) -> dict[str, str]:
    """ASGI headers as a dict of lower-case names; repeated headers joined like HTTP does
    (cookies with ``; ``, others with ``, ``), in one pass."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in headers:
            headers[name] += ("; " if name == "cookie" else ", ") + value
        else:
            headers[name] = value
    return headers


async def read_body(receive: Receive) -> bytes:
    """The whole body; its size is capped by ``RequestLimitsMiddleware`` in front."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def parse_cookies(header: str | None) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, eq, value = part.strip().partition("=")
        if eq and name:
            cookies[name] = value
    return cookies


def search_path_for(schema: str) -> str:
    return '"' + schema.replace('"', '""') + '", "public"'


class RequestContext(msgspec.Struct, frozen=True):
    """What the transaction exposes to SQL as ``request.*`` GUCs."""

    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    cookies: Mapping[str, str]
    search_path: str

    @classmethod
    def of(cls, method: str, path: str, headers: Mapping[str, str],
           schema: str) -> RequestContext:
        """The context of a request to ``path`` running in ``schema`` (its search_path)."""
        return cls(method=method, path=path, headers=headers,
                   cookies=parse_cookies(headers.get("cookie")),
                   search_path=search_path_for(schema))

    def values(self, claims_json: str) -> tuple[str, str, str, str, str, str]:
        """$1-$6 of every call statement: claims, method, path, headers, cookies,
        search_path (``api.rpc.query.CONTEXT_GUCS``)."""
        return (
            claims_json,
            self.method,
            self.path,
            msgspec.json.encode(self.headers).decode(),
            msgspec.json.encode(self.cookies).decode(),
            self.search_path,
        )
