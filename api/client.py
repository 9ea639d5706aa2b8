"""Calling our own API from the command line tools (``backfill``, ``collect``).

One way to reach the API with the writer token of ``METRICS_RPC_TOKEN``, to read the
message of a PostgREST-shaped error answer, and to tell a failure worth retrying from one
that sending again cannot fix. The retry loops stay with their callers: they differ.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from api.config import ConfigError, Settings

DEFAULT_TIMEOUT = 30.0


def api_client(
    settings: Settings,
    user_agent: str,
    api_url: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """A client for ``api_url`` (default ``METRICS_RPC_API_URL``) sending the writer JWT.

    Raises ``ConfigError`` without ``METRICS_RPC_TOKEN``: every write needs it.
    """
    if not settings.token:
        raise ConfigError(f"METRICS_RPC_TOKEN: {user_agent} needs a writer JWT to call the API")
    return httpx.Client(
        base_url=(api_url or settings.api_url).rstrip("/"),
        headers={"Authorization": f"Bearer {settings.token}", "User-Agent": user_agent},
        timeout=timeout,
        transport=transport,
    )


def error_message(response: httpx.Response) -> str:
    """``code message details`` of a PostgREST error body, else the start of the text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(body, Mapping):
        parts = [str(body[k]) for k in ("code", "message", "details") if body.get(k)]
        if parts:
            return " ".join(parts)
    return str(body)[:200]


def retryable(status: int) -> bool:
    """Whether the same request may succeed later: timeouts, rate limits, server errors."""
    return status in (408, 429) or status >= 500
