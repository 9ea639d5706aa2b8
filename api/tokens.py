"""Minting JWTs with the configured HS secret (``metrics-rpc token``, ``metrics-rpc dev``)."""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt

from api.config import ConfigError, Settings
from api.config import parse_duration as config_duration
from api.rpc import load_keys


def parse_duration(text: str) -> int:
    """``90``, ``30m``, ``1h``, ``7d`` → whole seconds (the one duration syntax of
    ``api.config``)."""
    return int(config_duration(text))


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
