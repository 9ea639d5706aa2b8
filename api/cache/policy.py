"""HTTP caching of a ``GET``/``HEAD /rpc`` 200: the function's declared policy, the strong
``ETag``, ``Vary`` and ``If-None-Match``. Pure: no I/O.

A function declares its policy in its own SQL file (``SET metrics_rpc.cache_control =
'public, max-age=60'``); the schema cache carries the text (``Function.cache_control``).
"""

from __future__ import annotations

import functools
import hashlib

import msgspec

VARY = "Accept, Accept-Profile, Authorization, Prefer"
# what a 304 repeats of the 200 it stands for (RFC 9110 §15.4.5)
NOT_MODIFIED_HEADERS = frozenset(
    ("etag", "cache-control", "vary", "expires", "content-location", "date")
)
# directives a shared cache acts on: dropped when the response is private
_SHARED_ONLY = frozenset(("public", "s-maxage", "proxy-revalidate"))


class CachePolicy(msgspec.Struct, frozen=True):
    """A ``Cache-Control`` value as declared, with what the server cache needs of it."""

    text: str
    directives: tuple[tuple[str, str | None], ...]  # (name lower-cased, value)
    # seconds the server cache may keep a response (0: never stored): ``s-maxage``, else
    # ``max-age``; 0 for ``no-store`` / ``no-cache``
    server_ttl: int = 0

    @classmethod
    def parse(cls, text: str) -> CachePolicy:
        directives: list[tuple[str, str | None]] = []
        for part in text.split(","):
            name, eq, value = part.strip().partition("=")
            if name.strip():
                directives.append((name.strip().lower(), value.strip().strip('"') if eq else None))
        names = {name for name, _ in directives}
        ttl: int | None = 0
        if not names & {"no-store", "no-cache"}:
            ttl = _seconds(directives, "s-maxage")
            if ttl is None:
                ttl = _seconds(directives, "max-age")
        return cls(text.strip(), tuple(directives), ttl or 0)

    def header(self, *, authenticated: bool) -> str:
        """The ``Cache-Control`` to send: as declared, but ``private`` (and without the
        shared-cache directives) for a JWT-authenticated request."""
        if not authenticated:
            return self.text
        kept = [name if value is None else f"{name}={value}"
                for name, value in self.directives
                if name not in _SHARED_ONLY and name != "private"]
        return ", ".join(["private", *kept])


def _seconds(directives: list[tuple[str, str | None]], name: str) -> int | None:
    for directive, value in directives:
        if directive == name and value is not None:
            try:
                return max(int(value), 0)
            except ValueError:
                return None
    return None


@functools.lru_cache(maxsize=256)
def policy_of(text: str | None) -> CachePolicy | None:
    """The parsed policy of ``Function.cache_control`` (parsed once per distinct text)."""
    if text is None or not text.strip():
        return None
    return CachePolicy.parse(text)


def strong_etag(content_type: str, body: bytes) -> str:
    """A strong validator: a hash of the representation (its media type and bytes)."""
    digest = hashlib.blake2b(content_type.encode(), digest_size=16)
    digest.update(b"\0")
    digest.update(body)
    return f'"{digest.hexdigest()}"'


def caching_headers(
    headers: list[tuple[str, str]],
    body: bytes | None,
    policy: CachePolicy | None,
    *,
    authenticated: bool,
) -> list[tuple[str, str]]:
    """``headers`` of a GET/HEAD 200 with ``ETag`` and, when the function declares a policy,
    ``Cache-Control`` and ``Vary``. What the function set itself (``response.headers``)
    wins: those names are left as they are. ``body=None`` (a streamed response): no ETag."""
    present = {name for name, _ in headers}
    out = list(headers)
    if "etag" not in present and body is not None:
        content_type = next((v for n, v in headers if n == "content-type"), "")
        out.append(("etag", strong_etag(content_type, body)))
    if policy is not None:
        if "cache-control" not in present:
            out.append(("cache-control", policy.header(authenticated=authenticated)))
        if "vary" not in present:
            out.append(("vary", VARY))
    return out


def etag_matches(if_none_match: str | None, etag: str | None) -> bool:
    """``If-None-Match`` against our ETag, by weak comparison (RFC 9110 §13.1.2)."""
    if if_none_match is None or etag is None:
        return False
    value = if_none_match.strip()
    if value == "*":
        return True
    ours = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == ours for tag in value.split(","))


def not_modified_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers of the 304 that stands for a 200 with ``headers``."""
    return [(name, value) for name, value in headers if name in NOT_MODIFIED_HEADERS]
