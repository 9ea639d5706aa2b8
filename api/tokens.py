"""Minting JWTs with the configured HS secret (``metrics-rpc token``, ``metrics-rpc dev``)."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import jwt

from api.config import ConfigError, Settings
from api.rpc import load_keys

_DURATION = re.compile(r"^(?P<n>\d+)\s*(?P<unit>[smhdw]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> int:
    """``90``, ``30m``, ``1h``, ``7d`` → seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 1h, 7d)")
    return int(match["n"]) * _UNIT_SECONDS[match["unit"]]


def new_secret() -> str:
    """A random HS256 secret comfortably above the 32-character minimum."""
    return secrets.token_urlsafe(48)


def mint_token(
    settings: Settings,
    role: str,
    *,
    sub: str | None = None,
    expires_in: int | None = 3600,
    extra: dict[str, Any] | None = None,
) -> str:
    """A JWT the API accepts: signed with the HS key of ``PGRST_JWT_SECRET``, read exactly
    as the API reads it (inline, ``@file``, base64, JWK or JWKS with an ``oct`` key)."""
    hs_keys = [k for k in load_keys(settings) if isinstance(k.key, bytes)]
    if not hs_keys:
        raise ConfigError("PGRST_JWT_SECRET: minting needs an HS secret (or an oct JWK)")
    key = hs_keys[0]
    algorithm = "HS256" if "HS256" in key.algorithms else min(key.algorithms)
    now = int(time.time())
    claims: dict[str, Any] = {"role": role, "iat": now}
    if sub:
        claims["sub"] = sub
    if expires_in:
        claims["exp"] = now + expires_in
    if settings.jwt_aud:
        claims["aud"] = settings.jwt_aud
    claims.update(extra or {})
    return jwt.encode(claims, key.key, algorithm=algorithm)
