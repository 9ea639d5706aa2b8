"""The live dashboard: static files shipped in this package, served at ``/dashboard``.

The page is a client of the public ``/rpc`` API, like any other: no route here reads the
database. ``GET /dashboard`` (and ``GET /`` for a browser, see ``prefers_html``) gives
``static/index.html``; ``GET /dashboard/static/<file>`` gives the scripts, styles and the
world outline. Every file is read and gzipped once at start; responses carry a strong
``ETag`` (``If-None-Match`` → 304) and ``Cache-Control: no-cache`` so a new release is
picked up on the next load. The page's Content-Security-Policy allows nothing from
another origin.

Vendored: uPlot 1.6.32 (npm ``uplot``, MIT) and Natural Earth 1:110m land (npm
``world-atlas`` 2.0.2, public domain) — see ``static/vendor/README.md``.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.types import ControllerRouterHandler

STATIC = Path(__file__).resolve().parent / "static"

UPLOT_VERSION = "1.6.32"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

# Litestar adds "; charset=utf-8" to text/* types itself.
_MEDIA_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".md": "text/markdown",
    ".LICENSE": "text/plain",
}

_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True, slots=True)
class Asset:
    """One static file, ready to send: its bytes, gzipped bytes, media type and ETag."""

    body: bytes
    gzipped: bytes
    media_type: str
    etag: str

    @classmethod
    def load(cls, path: Path) -> Asset:
        body = path.read_bytes()
        media_type = _MEDIA_TYPES.get(path.suffix, "application/octet-stream")
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return cls(body, gzip.compress(body, 9, mtime=0), media_type, etag)

    def response(self, request: Request[Any, Any, Any],
                 extra_headers: dict[str, str] | None = None) -> Response[bytes]:
        headers = {"ETag": self.etag, "Cache-Control": "no-cache",
                   "Vary": "Accept-Encoding", **(extra_headers or {})}
        if self.etag in request.headers.get("if-none-match", ""):
            return Response(b"", status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(self.gzipped, media_type=self.media_type, headers=headers)
        return Response(self.body, media_type=self.media_type, headers=headers)


def load_assets(root: Path = STATIC) -> dict[str, Asset]:
    """Every file under ``root`` by its relative path (``vendor/uPlot.iife.min.js``)."""
    return {path.relative_to(root).as_posix(): Asset.load(path)
            for path in sorted(root.rglob("*")) if path.is_file()}


def prefers_html(accept: str) -> bool:
    """Whether an ``Accept`` header asks for a page rather than the OpenAPI document: it
    names ``text/html`` with a higher weight than any JSON type. ``*/*``, a missing header
    and every API client's JSON types keep getting OpenAPI."""
    html_q = json_q = 0.0
    for item in accept.split(","):
        media, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.strip().lower()
        if media == "text/html":
            html_q = max(html_q, q)
        elif media in ("application/json", "application/openapi+json"):
            json_q = max(json_q, q)
    return html_q > json_q


class Dashboard:
    """The dashboard's files in memory, and the route handlers that serve them."""

    def __init__(self, root: Path = STATIC) -> None:
        self.assets = load_assets(root)
        self.page = self.assets["index.html"]

    def page_response(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        response = self.page.response(request, _PAGE_HEADERS)
        response.headers["Vary"] = "Accept, Accept-Encoding"
        return response

    def handlers(self) -> list[ControllerRouterHandler]:
        @get("/dashboard", sync_to_thread=False, include_in_schema=False)
        def page(request: Request[Any, Any, Any]) -> Response[bytes]:
            return self.page_response(request)

        @get("/dashboard/static/{name:path}", sync_to_thread=False, include_in_schema=False)
        def static(request: Request[Any, Any, Any]) -> Response[bytes]:
            asset = self.assets.get(str(request.path_params["name"]).lstrip("/"))
            if asset is None:
                raise NotFoundException()
            return asset.response(request, {"X-Content-Type-Options": "nosniff"})

        return [page, static]
