"""Writer identity: ``metrics-rpc token`` requires ``--sub`` for non-anonymous roles, and a
JWT without ``sub`` is rate-limited and audited under a stable fingerprint of the token."""

from __future__ import annotations

import hashlib
import time

import httpx
import jwt

from api.rpc.auth import token_fingerprint
from tests.api import hardening_db as hardening
from tests.api.apiserver import serving
from tests.api.test_cli import SECRET, cli
from tests.pgfixtures import DbInfo


def subless_writer_token(nonce: str) -> str:
    claims = {"role": "writer", "exp": int(time.time()) + 600, "nonce": nonce}
    return jwt.encode(claims, hardening.JWT_SECRET, algorithm="HS256")


def test_token_for_a_writer_requires_sub() -> None:
    result = cli("token", "--role", "writer", PGRST_JWT_SECRET=SECRET)
    assert result.returncode == 2
    assert "--sub" in result.stderr
    assert result.stdout == ""


def test_token_for_the_anonymous_role_needs_no_sub() -> None:
    result = cli("token", "--role", "web_anon", PGRST_JWT_SECRET=SECRET)
    assert result.returncode == 0, result.stderr
    assert "sub" not in jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"])


def test_fingerprint_is_stable_and_short() -> None:
    token = subless_writer_token("a")
    assert token_fingerprint(token) == "tok:" + hashlib.sha256(token.encode()).hexdigest()[:16]
    assert token_fingerprint(token) != token_fingerprint(subless_writer_token("b"))


def test_tokens_without_sub_get_their_own_rate_limit(hardening_db: DbInfo) -> None:
    settings = hardening.settings(hardening_db, rate_limits="writer=2/minute")
    first, second = subless_writer_token("first"), subless_writer_token("second")
    with serving(settings, db=hardening_db) as api, api.client() as client:
        def call(token: str) -> int:
            return client.get("/rpc/hardening_rows",
                              headers={"Authorization": f"Bearer {token}"}).status_code

        assert [call(first), call(first), call(first)] == [200, 200, 429]
        assert call(second) == 200  # not the first token's bucket


def test_audit_of_a_token_without_sub_names_its_fingerprint(hardening_db: DbInfo) -> None:
    token = subless_writer_token("audit")
    with serving(hardening.settings(hardening_db), db=hardening_db) as api:
        response = httpx.post(f"{api.base_url}/rpc/add_excluded_address",
                              json={"p_value": "manifest1fingerprinted"},
                              headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 204, response.text
    audited = hardening_db.psql(
        "select sub || ' ' || role from metrics.excluded_addresses_audit"
        " where value = 'manifest1fingerprinted'"
    )
    assert audited == f"{token_fingerprint(token)} writer"
