"""Stage 1 of the pipeline: ``Authorization: Bearer <jwt>`` → role and verified claims.

Follows PostgREST (``Auth/Jwt.hs``): the same key formats (HS secret, JWK, JWKS, inline or
``@file``), the same claim checks with 30 s of clock skew, the same error codes and wording
(``PGRST301`` decode/signature, ``PGRST302`` anonymous disabled, ``PGRST303`` claims).
Signatures are checked with pyjwt's algorithm objects directly, after we pick the keys
ourselves: only keys whose type fits the token's ``alg`` are ever tried, which is what
rules out ``alg: none`` and algorithm confusion (an HS token against an RSA key).
A token of a non-anonymous role without ``sub`` gets ``sub = tok:<fingerprint>`` (in the
claims too, so ``request.jwt.claims`` and the audit carry it): it keys the rate limit.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
from jwt.algorithms import Algorithm, get_default_algorithms
from jwt.exceptions import InvalidKeyError, PyJWKError

from api.config import ConfigError, Settings
from api.errors import JwtClaimsError, JwtDecodeError, JwtSecretMissing, JwtTokenRequired

ALLOWED_SKEW_SECONDS = 30
MIN_HS_SECRET_CHARS = 32

_HS = ("HS256", "HS384", "HS512")
_RSA = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_EC_BY_CURVE = {"P-256": ("ES256",), "P-384": ("ES384",), "P-521": ("ES512",)}
_OKP_CURVES = ("Ed25519", "Ed448")
SUPPORTED_ALGORITHMS = frozenset((*_HS, *_RSA, "ES256", "ES384", "ES512", "EdDSA"))
_ALGORITHMS: dict[str, Algorithm] = get_default_algorithms()


class AuthResult(msgspec.Struct, frozen=True):
    role: str
    claims: dict[str, Any]  # verified claims, "role" set to the effective role
    sub: str | None
    anonymous: bool
    claims_json: str = "{}"  # ``claims`` as JSON (request.jwt.claims), encoded once per token

    @classmethod
    def of(cls, role: str, claims: dict[str, Any], sub: str | None,
           anonymous: bool) -> AuthResult:
        return cls(role, claims, sub, anonymous, msgspec.json.encode(claims).decode())


class _VerificationKey(msgspec.Struct, frozen=True):
    kid: str | None
    algorithms: frozenset[str]  # the algorithms this key may verify, by its type
    key: Any  # a prepared key object for pyjwt's Algorithm.verify


# --- key material -------------------------------------------------------------------


def load_keys(settings: Settings) -> tuple[_VerificationKey, ...]:
    """The verification keys from ``PGRST_JWT_SECRET``; ``()`` when no secret is set."""
    raw = settings.jwt_secret
    if raw is None or raw == "":
        return ()
    if raw.startswith("@"):
        try:
            raw = Path(raw[1:]).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"PGRST_JWT_SECRET: cannot read {raw[1:]}: {exc}") from exc
    stripped = raw.strip()
    if stripped.startswith("{"):
        return _keys_from_json(stripped)
    if settings.jwt_secret_is_base64:
        try:
            secret = base64.b64decode(_pad(stripped.replace("-", "+").replace("_", "/")))
        except (binascii.Error, ValueError) as exc:
            raise ConfigError("PGRST_JWT_SECRET: not valid base64") from exc
    else:
        secret = raw.encode()
    if len(secret) < MIN_HS_SECRET_CHARS:
        raise ConfigError(
            f"PGRST_JWT_SECRET: an HS secret must be at least {MIN_HS_SECRET_CHARS} characters"
        )
    return (_VerificationKey(kid=None, algorithms=frozenset(_HS), key=secret),)


def _pad(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def _keys_from_json(text: str) -> tuple[_VerificationKey, ...]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"PGRST_JWT_SECRET: malformed JWK/JWKS JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError("PGRST_JWT_SECRET: a JWK or JWKS must be a JSON object")
    if "keys" in doc:
        entries = doc["keys"]
        if not isinstance(entries, list) or not entries:
            raise ConfigError("PGRST_JWT_SECRET: a JWKS needs a non-empty 'keys' array")
    else:
        entries = [doc]
    keys = [_key_from_jwk(entry, index) for index, entry in enumerate(entries)]
    usable = tuple(key for key in keys if key is not None)
    if not usable:
        raise ConfigError("PGRST_JWT_SECRET: no key usable for signature verification")
    return usable


def _key_from_jwk(jwk: Any, index: int) -> _VerificationKey | None:
    where = f"PGRST_JWT_SECRET: key {index}"
    if not isinstance(jwk, dict) or not isinstance(jwk.get("kty"), str):
        raise ConfigError(f"{where}: a JWK must be an object with a 'kty'")
    if jwk.get("use") not in (None, "sig"):
        return None  # an encryption key in a shared JWKS: not ours to verify with
    kty, crv, alg = jwk["kty"], jwk.get("crv"), jwk.get("alg")
    if kty == "oct":
        family: Sequence[str] = _HS
    elif kty == "RSA":
        family = _RSA
    elif kty == "EC" and crv in _EC_BY_CURVE:
        family = _EC_BY_CURVE[crv]
    elif kty == "OKP" and crv in _OKP_CURVES:
        family = ("EdDSA",)
    else:
        raise ConfigError(f"{where}: unsupported key type {kty!r} (curve {crv!r})")
    if alg is not None:
        if alg not in family:
            raise ConfigError(f"{where}: 'alg' {alg!r} does not fit key type {kty!r}")
        family = (alg,)
    try:
        key = _ALGORITHMS[family[0]].from_jwk(jwk)
    except (InvalidKeyError, PyJWKError, ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"{where}: malformed JWK: {exc}") from exc
    if kty == "oct" and len(key) < MIN_HS_SECRET_CHARS:
        raise ConfigError(f"{where}: an HS key must be at least {MIN_HS_SECRET_CHARS} bytes")
    if hasattr(key, "public_key") and kty != "oct":
        key = key.public_key()  # a private JWK was given: verifying needs only its public half
    kid = jwk.get("kid")
    return _VerificationKey(
        kid=kid if isinstance(kid, str) else None, algorithms=frozenset(family), key=key
    )


# --- the authenticator --------------------------------------------------------------


class Authenticator:
    """Verifies bearer tokens against the configured keys; keeps a cache of good ones."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self._keys = load_keys(settings)
        self._role_path = settings.jwt_role_claim_key
        self._anon_role = settings.db_anon_role or None
        self._aud = settings.jwt_aud
        self._clock = clock
        self._cache_size = max(settings.jwt_cache_size, 0)
        # token → (result, expiry epoch or None); insertion order = least recently used first
        self._cache: OrderedDict[str, tuple[AuthResult, float | None]] = OrderedDict()
        self._anonymous: AuthResult | None = (
            AuthResult.of(self._anon_role, {"role": self._anon_role}, None, anonymous=True)
            if self._anon_role
            else None
        )

    def authenticate(self, authorization_header: str | None) -> AuthResult:
        """The role and claims of a request; raises ``ApiError`` (401) for a bad token."""
        if authorization_header is None:
            if self._anonymous is None:
                raise JwtTokenRequired()
            return self._anonymous
        token = _bearer_token(authorization_header)
        cached = self._cache_get(token)
        if cached is not None:
            return cached
        result, expires_at = self._verify(token)
        self._cache_put(token, result, expires_at)
        return result

    # -- cache --

    def _cache_get(self, token: str) -> AuthResult | None:
        entry = self._cache.get(token)
        if entry is None:
            return None
        result, expires_at = entry
        if expires_at is not None and self._clock() >= expires_at:
            del self._cache[token]
            return None
        self._cache.move_to_end(token)
        return result

    def _cache_put(self, token: str, result: AuthResult, expires_at: float | None) -> None:
        if self._cache_size == 0:
            return
        self._cache[token] = (result, expires_at)
        self._cache.move_to_end(token)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    @property
    def cache_len(self) -> int:
        return len(self._cache)

    # -- verification --

    def _verify(self, token: str) -> tuple[AuthResult, float | None]:
        if not self._keys:
            raise JwtSecretMissing()
        parts = token.split(".")
        if len(parts) != 3:
            raise JwtDecodeError(f"Expected 3 parts in JWT; got {len(parts)}")
        header = _decode_json_part(parts[0])
        if not isinstance(header, dict):
            raise JwtDecodeError("JWT cryptographic operation failed")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in SUPPORTED_ALGORITHMS:
            raise JwtDecodeError(
                "Wrong or unsupported encoding algorithm",
                details="JWT is unsecured but expected 'alg' was not 'none'"  # PostgREST's
                if alg == "none" else f"JWT algorithm {alg!r} is not supported",
            )
        kid = header.get("kid")
        candidates = [
            key
            for key in self._keys
            if alg in key.algorithms and (kid is None or key.kid is None or key.kid == kid)
        ]
        if not candidates:
            raise JwtDecodeError(
                "No suitable key or wrong key type",
                details=f"No key found for algorithm {alg}"
                + (f" and kid {kid!r}" if isinstance(kid, str) else ""),
            )
        try:
            signature = _b64url(parts[2])
        except ValueError:
            raise JwtDecodeError("JWT cryptographic operation failed") from None
        signing_input = f"{parts[0]}.{parts[1]}".encode()
        algorithm = _ALGORITHMS[alg]
        if not any(_verifies(algorithm, signing_input, key.key, signature) for key in candidates):
            raise JwtDecodeError(
                "No suitable key or wrong key type",
                details="None of the keys was able to decode the JWT",
            )
        claims = _decode_json_part(parts[1], claims=True)
        if not isinstance(claims, dict):
            raise JwtClaimsError("Parsing claims failed")
        expires_at = self._check_claims(claims)
        return self._result(claims, token), expires_at

    def _check_claims(self, claims: dict[str, Any]) -> float | None:
        """PostgREST's checks, in its order; returns ``exp`` for the cache."""
        now = self._clock()
        times: dict[str, float | None] = {}
        for name in ("exp", "nbf", "iat"):
            value = claims.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise JwtClaimsError(f"The JWT '{name}' claim must be a number")
            times[name] = value
        exp, nbf, iat = times["exp"], times["nbf"], times["iat"]
        if exp is not None and now - ALLOWED_SKEW_SECONDS > exp:
            raise JwtClaimsError("JWT expired")
        if nbf is not None and now + ALLOWED_SKEW_SECONDS < nbf:
            raise JwtClaimsError("JWT not yet valid")
        if iat is not None and now + ALLOWED_SKEW_SECONDS < iat:
            raise JwtClaimsError("JWT issued at future")
        if "aud" in claims or self._aud is not None:
            aud = claims.get("aud")
            if aud is not None and not (
                isinstance(aud, str)
                or (isinstance(aud, list) and all(isinstance(a, str) for a in aud))
            ):
                raise JwtClaimsError("The JWT 'aud' claim must be a string or an array of strings")
            if self._aud is not None:
                audiences = [aud] if isinstance(aud, str) else (aud or [])
                # stricter than PostgREST: a configured audience must be present in the token
                if self._aud not in audiences:
                    raise JwtClaimsError("JWT not in audience")
        return float(exp) if exp is not None else None

    def _result(self, claims: dict[str, Any], token: str) -> AuthResult:
        value = self._role_path.find(claims)
        if value is None:
            if self._anon_role is None:
                raise JwtTokenRequired()
            role, anonymous = self._anon_role, True
        else:
            role = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            anonymous = False
        sub = claims.get("sub")
        sub_text = sub if isinstance(sub, str) else (str(sub) if isinstance(sub, int) else None)
        claims = {**claims, "role": role}
        if sub_text is None and not anonymous:
            # rate limit and audit key: tokens without a subject must not share one bucket
            sub_text = claims["sub"] = token_fingerprint(token)
        return AuthResult.of(role, claims, sub_text, anonymous)


def token_fingerprint(token: str) -> str:
    """The stable stand-in for a missing ``sub``: ``tok:`` + 16 hex digits of its SHA-256."""
    return "tok:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def _bearer_token(header: str) -> str:
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        # PostgREST treats any other scheme as an empty token
        raise JwtDecodeError("Empty JWT is sent in Authorization header")
    return token


def _b64url(part: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", part):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(_pad(part))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def _decode_json_part(part: str, *, claims: bool = False) -> Any:
    try:
        return json.loads(_b64url(part))
    except ValueError:
        if claims:
            raise JwtClaimsError("Parsing claims failed") from None
        raise JwtDecodeError("JWT cryptographic operation failed") from None


def _verifies(algorithm: Algorithm, signing_input: bytes, key: Any, signature: bytes) -> bool:
    try:
        return bool(algorithm.verify(signing_input, key, signature))
    except (ValueError, TypeError, InvalidKeyError):
        return False
