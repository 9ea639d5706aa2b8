"""api/rpc/auth.py: pure unit tests, no database, keys generated here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from api.config import ConfigError, Settings, parse_jspath, walk_jspath
from api.errors import ApiError
from api.rpc import auth as auth_module
from api.rpc.auth import Authenticator, AuthResult

SECRET = "reallyreallyreallyreallyverysafe-0123456789" * 2  # ≥ 64 bytes: fine for HS512
NOW = 1_700_000_000.0


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"jwt_secret": SECRET}
    values.update(overrides)
    return Settings(**values)


def authenticator(clock: Callable[[], float] = lambda: NOW, **overrides: Any) -> Authenticator:
    return Authenticator(settings(**overrides), clock=clock)


def hs(claims: dict[str, Any], *, secret: str | bytes = SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=alg)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict[str, Any], claims: Any, signature: bytes = b"sig") -> str:
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(claims).encode())
    return f"{head}.{body}.{b64url(signature)}"


def bearer(token: str) -> str:
    return f"Bearer {token}"


def rejected(auth: Authenticator, header: str | None) -> ApiError:
    with pytest.raises(ApiError) as info:
        auth.authenticate(header)
    return info.value


def assert_401(error: ApiError, code: str, message: str) -> None:
    assert error.status == 401
    assert error.code == code
    assert error.message == message
    expected = f'Bearer error="invalid_token", error_description="{message}"'
    assert error.headers.get("WWW-Authenticate") == expected


# --- anonymous and happy paths -------------------------------------------------------


def test_no_header_is_the_anonymous_role() -> None:
    result = authenticator().authenticate(None)
    assert result == AuthResult(
        role="web_anon", claims={"role": "web_anon"}, sub=None, anonymous=True,
        claims_json='{"role":"web_anon"}',
    )


def test_anonymous_role_follows_settings() -> None:
    assert authenticator(db_anon_role="anon").authenticate(None).role == "anon"


def test_no_header_without_anon_role_requires_a_token() -> None:
    error = rejected(authenticator(db_anon_role=""), None)
    assert (error.status, error.code) == (401, "PGRST302")
    assert error.message == "Anonymous access is disabled"


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_valid_hs_token(alg: str) -> None:
    token = hs({"role": "writer", "sub": "alice", "exp": NOW + 60}, alg=alg)
    result = authenticator().authenticate(bearer(token))
    assert result.role == "writer"
    assert result.sub == "alice"
    assert not result.anonymous
    assert result.claims == {"role": "writer", "sub": "alice", "exp": NOW + 60}
    assert json.loads(result.claims_json) == result.claims  # encoded once, with the token


def test_bearer_scheme_is_case_insensitive() -> None:
    token = hs({"role": "writer"})
    assert authenticator().authenticate(f"bearer {token}").role == "writer"


def test_token_without_role_claim_is_anonymous_with_its_claims() -> None:
    result = authenticator().authenticate(bearer(hs({"sub": "bob"})))
    assert result.role == "web_anon"
    assert result.anonymous
    assert result.claims == {"sub": "bob", "role": "web_anon"}
    assert result.sub == "bob"


def test_numeric_sub_becomes_text() -> None:
    assert authenticator().authenticate(bearer(hs({"role": "writer", "sub": 42}))).sub == "42"


def test_base64_secret() -> None:
    raw = b"\x00\x01binary-secret-material-0123456789abcdef"
    auth = authenticator(jwt_secret=base64.b64encode(raw).decode(), jwt_secret_is_base64=True)
    assert auth.authenticate(bearer(hs({"role": "writer"}, secret=raw))).role == "writer"
    # the same text used as a plain secret does not verify
    error = rejected(auth, bearer(hs({"role": "writer"}, secret=base64.b64encode(raw))))
    assert error.code == "PGRST301"


# --- secrets refused at start --------------------------------------------------------


def test_short_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least 32"):
        Authenticator(settings(jwt_secret="x" * 31))


def test_short_base64_secret_is_refused() -> None:
    short = base64.b64encode(b"y" * 31).decode()  # 44 characters of base64, 31 bytes
    with pytest.raises(ConfigError, match="at least 32"):
        Authenticator(settings(jwt_secret=short, jwt_secret_is_base64=True))


def test_invalid_base64_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="base64"):
        Authenticator(settings(jwt_secret="not*base64" * 5, jwt_secret_is_base64=True))


@pytest.mark.parametrize(
    "secret",
    [
        '{"kty": "RSA"',  # broken JSON
        '{"kty": "RSA", "n": "abc"}',  # missing e
        '{"keys": []}',
        '{"keys": [{"no": "kty"}]}',
        '{"kty": "XYZ"}',
        '{"kty": "EC", "crv": "P-999", "x": "a", "y": "b"}',
        '{"kty": "oct", "k": "c2hvcnQ"}',  # "short"
        '[{"kty": "RSA"}]',
    ],
)
def test_malformed_jwk_is_refused(secret: str) -> None:
    with pytest.raises(ConfigError, match="PGRST_JWT_SECRET"):
        Authenticator(settings(jwt_secret=secret))


def test_missing_secret_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        Authenticator(settings(jwt_secret=f"@{tmp_path / 'nope.json'}"))


def test_token_without_any_secret_configured_is_500() -> None:
    auth = Authenticator(Settings(jwt_secret=None))
    assert auth.authenticate(None).role == "web_anon"
    error = rejected(auth, bearer(hs({"role": "writer"})))
    assert (error.status, error.code, error.message) == (500, "PGRST300", "Server lacks JWT secret")


# --- time claims ---------------------------------------------------------------------


def test_expired_token() -> None:
    error = rejected(authenticator(), bearer(hs({"role": "writer", "exp": NOW - 31})))
    assert_401(error, "PGRST303", "JWT expired")


def test_expired_within_skew_is_accepted() -> None:
    token = hs({"role": "writer", "exp": NOW - 29})
    assert authenticator().authenticate(bearer(token)).role == "writer"


def test_not_yet_valid_token() -> None:
    error = rejected(authenticator(), bearer(hs({"role": "writer", "nbf": NOW + 31})))
    assert_401(error, "PGRST303", "JWT not yet valid")
    token = hs({"role": "writer", "nbf": NOW + 29})
    assert authenticator().authenticate(bearer(token)).role == "writer"


def test_issued_in_the_future_beyond_skew() -> None:
    error = rejected(authenticator(), bearer(hs({"role": "writer", "iat": NOW + 31})))
    assert_401(error, "PGRST303", "JWT issued at future")
    token = hs({"role": "writer", "iat": NOW + 29})
    assert authenticator().authenticate(bearer(token)).role == "writer"


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_time_claims_must_be_numbers(claim: str) -> None:
    error = rejected(authenticator(), bearer(hs({"role": "writer", claim: "soon"})))
    assert_401(error, "PGRST303", f"The JWT '{claim}' claim must be a number")


# --- audience ------------------------------------------------------------------------


def test_matching_audience() -> None:
    auth = authenticator(jwt_aud="metrics")
    assert auth.authenticate(bearer(hs({"role": "writer", "aud": "metrics"}))).role == "writer"
    token = hs({"role": "writer", "aud": ["other", "metrics"]})
    assert auth.authenticate(bearer(token)).role == "writer"


def test_wrong_audience() -> None:
    error = rejected(authenticator(jwt_aud="metrics"), bearer(hs({"role": "w", "aud": "x"})))
    assert_401(error, "PGRST303", "JWT not in audience")


def test_missing_audience_when_required() -> None:
    error = rejected(authenticator(jwt_aud="metrics"), bearer(hs({"role": "writer"})))
    assert_401(error, "PGRST303", "JWT not in audience")


def test_audience_ignored_when_not_configured_but_must_be_well_formed() -> None:
    auth = authenticator()
    assert auth.authenticate(bearer(hs({"role": "writer", "aud": "any"}))).role == "writer"
    error = rejected(auth, bearer(hs({"role": "writer", "aud": 5})))
    assert_401(error, "PGRST303", "The JWT 'aud' claim must be a string or an array of strings")


# --- malformed and forged tokens -----------------------------------------------------


def test_bad_signature() -> None:
    token = hs({"role": "writer"}, secret="another-secret-that-is-long-enough-000")
    error = rejected(authenticator(), bearer(token))
    assert_401(error, "PGRST301", "No suitable key or wrong key type")


def test_tampered_payload() -> None:
    head, _, sig = hs({"role": "web_anon"}).split(".")
    forged_body = b64url(json.dumps({"role": "postgres"}).encode())
    error = rejected(authenticator(), bearer(f"{head}.{forged_body}.{sig}"))
    assert error.code == "PGRST301"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
def test_alg_none_is_rejected(alg: str) -> None:
    token = raw_token({"alg": alg, "typ": "JWT"}, {"role": "postgres"}, b"")
    error = rejected(authenticator(), bearer(token))
    assert_401(error, "PGRST301", "Wrong or unsupported encoding algorithm")


def test_alg_none_from_pyjwt_is_rejected() -> None:
    token = jwt.encode({"role": "postgres"}, None, algorithm="none")
    assert rejected(authenticator(), bearer(token)).code == "PGRST301"


def test_missing_alg_is_rejected() -> None:
    token = raw_token({"typ": "JWT"}, {"role": "postgres"})
    assert rejected(authenticator(), bearer(token)).code == "PGRST301"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("abc", "Expected 3 parts in JWT; got 1"),
        ("a.b", "Expected 3 parts in JWT; got 2"),
        ("a.b.c.d", "Expected 3 parts in JWT; got 4"),
        ("!!!.???.###", "JWT cryptographic operation failed"),
        (f"{b64url(b'not json')}.e30.c2ln", "JWT cryptographic operation failed"),
        (f"{b64url(b'[1]')}.e30.c2ln", "JWT cryptographic operation failed"),
    ],
)
def test_malformed_token(token: str, message: str) -> None:
    assert_401(rejected(authenticator(), bearer(token)), "PGRST301", message)


def test_signed_garbage_payload_is_a_claims_error() -> None:
    head = b64url(json.dumps({"alg": "HS256"}).encode())
    for body in (b64url(b"not json"), b64url(b"[1, 2]")):
        signing_input = f"{head}.{body}".encode()
        sig = hmac.new(SECRET.encode(), signing_input, hashlib.sha256).digest()
        error = rejected(authenticator(), bearer(f"{head}.{body}.{b64url(sig)}"))
        assert_401(error, "PGRST303", "Parsing claims failed")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "", "Token x"])
def test_non_bearer_or_empty_token(header: str) -> None:
    error = rejected(authenticator(), header)
    assert_401(error, "PGRST301", "Empty JWT is sent in Authorization header")


# --- asymmetric keys ------------------------------------------------------------------


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(private_key: Any, algorithm: Any, **extra: Any) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(private_key.public_key()))
    jwk.update(extra)
    return jwk


@pytest.fixture(scope="module")
def rsa_private() -> rsa.RSAPrivateKey:
    return rsa_key()


@pytest.mark.parametrize("alg", ["RS256", "RS512", "PS256"])
def test_rsa_jwk(rsa_private: rsa.RSAPrivateKey, alg: str) -> None:
    secret = json.dumps(public_jwk(rsa_private, RSAAlgorithm))
    token = jwt.encode({"role": "writer", "sub": "r"}, rsa_private, algorithm=alg)
    assert authenticator(jwt_secret=secret).authenticate(bearer(token)).role == "writer"


def test_es256_jwk() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    secret = json.dumps(public_jwk(key, ECAlgorithm))
    token = jwt.encode({"role": "writer"}, key, algorithm="ES256")
    auth = authenticator(jwt_secret=secret)
    assert auth.authenticate(bearer(token)).role == "writer"
    # an ES384 header cannot use a P-256 key
    error = rejected(auth, bearer(raw_token({"alg": "ES384"}, {"role": "writer"})))
    assert error.message == "No suitable key or wrong key type"


def test_eddsa_jwk() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    secret = json.dumps(public_jwk(key, OKPAlgorithm))
    token = jwt.encode({"role": "writer"}, key, algorithm="EdDSA")
    assert authenticator(jwt_secret=secret).authenticate(bearer(token)).role == "writer"


def test_private_jwk_verifies_with_its_public_half(rsa_private: rsa.RSAPrivateKey) -> None:
    secret = RSAAlgorithm.to_jwk(rsa_private)
    token = jwt.encode({"role": "writer"}, rsa_private, algorithm="RS256")
    assert authenticator(jwt_secret=secret).authenticate(bearer(token)).role == "writer"


def test_jwk_from_file(tmp_path: Path, rsa_private: rsa.RSAPrivateKey) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [public_jwk(rsa_private, RSAAlgorithm)]}))
    token = jwt.encode({"role": "writer"}, rsa_private, algorithm="RS256")
    assert authenticator(jwt_secret=f"@{path}").authenticate(bearer(token)).role == "writer"


def test_plain_secret_from_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(SECRET + "\n")
    assert authenticator(jwt_secret=f"@{path}").authenticate(bearer(hs({"role": "w"}))).role == "w"


def test_oct_jwk() -> None:
    jwk = {"kty": "oct", "k": b64url(SECRET.encode())}
    token = hs({"role": "writer"})
    assert authenticator(jwt_secret=json.dumps(jwk)).authenticate(bearer(token)).role == "writer"


def test_hs_token_against_rsa_key_is_rejected(rsa_private: rsa.RSAPrivateKey) -> None:
    """The classic confusion: HMAC-sign with the public key's bytes as the secret."""
    jwk = public_jwk(rsa_private, RSAAlgorithm)
    auth = authenticator(jwt_secret=json.dumps(jwk))
    pem = rsa_private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (pem, json.dumps(jwk).encode()):
        head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = b64url(json.dumps({"role": "postgres"}).encode())
        sig = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        error = rejected(auth, bearer(f"{head}.{body}.{b64url(sig)}"))
        assert_401(error, "PGRST301", "No suitable key or wrong key type")


def test_rs_token_against_hs_secret_is_rejected(rsa_private: rsa.RSAPrivateKey) -> None:
    token = jwt.encode({"role": "writer"}, rsa_private, algorithm="RS256")
    error = rejected(authenticator(), bearer(token))
    assert_401(error, "PGRST301", "No suitable key or wrong key type")


def test_jwk_alg_pins_the_algorithm(rsa_private: rsa.RSAPrivateKey) -> None:
    secret = json.dumps(public_jwk(rsa_private, RSAAlgorithm, alg="RS256"))
    auth = authenticator(jwt_secret=secret)
    assert auth.authenticate(bearer(jwt.encode({"role": "w"}, rsa_private, "RS256"))).role == "w"
    error = rejected(auth, bearer(jwt.encode({"role": "w"}, rsa_private, algorithm="PS256")))
    assert error.code == "PGRST301"


def test_jwks_kid_selection() -> None:
    one, two = rsa_key(), rsa_key()
    edkey = ed25519.Ed25519PrivateKey.generate()
    jwks = {
        "keys": [
            public_jwk(one, RSAAlgorithm, kid="one"),
            public_jwk(two, RSAAlgorithm, kid="two"),
            public_jwk(edkey, OKPAlgorithm, kid="ed"),
            {"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},  # ignored: not for signing
        ]
    }
    auth = authenticator(jwt_secret=json.dumps(jwks))
    for key, kid, alg in ((one, "one", "RS256"), (two, "two", "RS256"), (edkey, "ed", "EdDSA")):
        token = jwt.encode({"role": kid}, key, algorithm=alg, headers={"kid": kid})
        assert auth.authenticate(bearer(token)).role == kid
    # no kid: every key of the right type is tried
    assert auth.authenticate(bearer(jwt.encode({"role": "x"}, two, "RS256"))).role == "x"
    # signed by "one" but claiming kid "two": only "two" is tried, and fails
    token = jwt.encode({"role": "writer"}, one, algorithm="RS256", headers={"kid": "two"})
    assert_401(rejected(auth, bearer(token)), "PGRST301", "No suitable key or wrong key type")
    # unknown kid
    token = jwt.encode({"role": "writer"}, one, algorithm="RS256", headers={"kid": "three"})
    error = rejected(auth, bearer(token))
    assert error.message == "No suitable key or wrong key type"
    assert error.details is not None
    assert "three" in error.details


# --- role claim paths ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "claims", "role"),
    [
        (".role", {"role": "writer"}, "writer"),
        ("$.role", {"role": "writer"}, "writer"),
        (".app_metadata.role", {"app_metadata": {"role": "writer"}}, "writer"),
        ('."https://x.io/claims".role', {"https://x.io/claims": {"role": "writer"}}, "writer"),
        ('$."https://x.io/claims".role', {"https://x.io/claims": {"role": "writer"}}, "writer"),
        (".roles[0]", {"roles": ["writer", "other"]}, "writer"),
        (".roles[1]", {"roles": ["writer", "other"]}, "other"),
        (".realm.roles[-1]", {"realm": {"roles": ["a", "writer"]}}, "writer"),
        ('.roles[?(@ ^== "wri")]', {"roles": ["admin", "writer"]}, "writer"),
        ('.roles[?(@ == "writer")]', {"roles": ["admin", "writer"]}, "writer"),
        ('.roles[?(@ *== "rit")]', {"roles": ["admin", "writer"]}, "writer"),
        ('.roles[?(@ ==^ "ter")]', {"roles": ["admin", "writer"]}, "writer"),
        ('.roles[?(@ != "admin")]', {"roles": ["admin", "writer"]}, "writer"),
    ],
)
def test_role_claim_paths(path: str, claims: dict[str, Any], role: str) -> None:
    auth = authenticator(jwt_role_claim_key=path)
    result = auth.authenticate(bearer(hs(claims)))
    assert result.role == role
    assert result.claims["role"] == role
    assert not result.anonymous


@pytest.mark.parametrize(
    ("path", "claims"),
    [
        (".app_metadata.role", {"role": "writer"}),
        (".roles[5]", {"roles": ["writer"]}),
        (".roles[0]", {"roles": "writer"}),
        ('.roles[?(@ == "x")]', {"roles": ["writer"]}),
        (".role", {"role": None}),
    ],
)
def test_missing_role_claim_falls_back_to_anonymous(path: str, claims: dict[str, Any]) -> None:
    result = authenticator(jwt_role_claim_key=path).authenticate(bearer(hs(claims)))
    assert (result.role, result.anonymous) == ("web_anon", True)


def test_non_text_role_is_json_encoded() -> None:
    result = authenticator().authenticate(bearer(hs({"role": 5})))
    assert result.role == "5"


@pytest.mark.parametrize("path", ["", "role", ".", ".a[", "$$.role", ".a[x]"])
def test_bad_role_claim_path_is_refused(path: str) -> None:
    with pytest.raises(ConfigError, match="PGRST_JWT_ROLE_CLAIM_KEY"):
        parse_jspath(path)


def test_walk_jspath_on_non_containers() -> None:
    assert walk_jspath({"a": 1}, parse_jspath(".a.b")) is None
    assert walk_jspath({"a": [1]}, parse_jspath(".a.b")) is None


# --- cache ---------------------------------------------------------------------------


class CountingVerifies:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = auth_module._verifies

        def counting(*args: Any) -> bool:
            self.calls += 1
            return real(*args)

        monkeypatch.setattr(auth_module, "_verifies", counting)


def test_cache_skips_signature_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingVerifies(monkeypatch)
    auth = authenticator()
    token = bearer(hs({"role": "writer", "exp": NOW + 600}))
    first = auth.authenticate(token)
    assert auth.authenticate(token) == first
    assert auth.authenticate(token) == first
    assert counter.calls == 1
    assert auth.cache_len == 1


def test_cache_entries_expire_at_token_exp(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingVerifies(monkeypatch)
    now = [NOW]
    auth = authenticator(clock=lambda: now[0])
    token = bearer(hs({"role": "writer", "exp": NOW + 10}))
    auth.authenticate(token)
    now[0] = NOW + 9
    auth.authenticate(token)
    assert counter.calls == 1
    now[0] = NOW + 10  # cache entry gone: verified again (still within the skew)
    auth.authenticate(token)
    assert counter.calls == 2
    now[0] = NOW + 41  # beyond exp + skew: rejected, not served from cache
    assert_401(rejected(auth, token), "PGRST303", "JWT expired")


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingVerifies(monkeypatch)
    auth = authenticator(jwt_cache_size=2)
    tokens = [bearer(hs({"role": "writer", "sub": str(i)})) for i in range(3)]
    for token in tokens:
        auth.authenticate(token)
    assert auth.cache_len == 2
    auth.authenticate(tokens[2])
    assert counter.calls == 3
    auth.authenticate(tokens[0])  # evicted as least recently used
    assert counter.calls == 4


def test_cache_can_be_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingVerifies(monkeypatch)
    auth = authenticator(jwt_cache_size=0)
    token = bearer(hs({"role": "writer"}))
    auth.authenticate(token)
    auth.authenticate(token)
    assert counter.calls == 2
    assert auth.cache_len == 0


def test_failures_are_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = authenticator()
    token = bearer(hs({"role": "writer"}, secret="another-secret-that-is-long-enough-000"))
    rejected(auth, token)
    rejected(auth, token)
    assert auth.cache_len == 0


def test_real_clock_default() -> None:
    token = hs({"role": "writer", "exp": time.time() + 60, "iat": time.time()})
    assert Authenticator(settings()).authenticate(bearer(token)).role == "writer"
