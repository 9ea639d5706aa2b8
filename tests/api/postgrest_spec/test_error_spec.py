"""Port of PostgREST's ``test/spec/Feature/Query/ErrorSpec.hs``: the cases that reach a
function (``/rpc/...`` in place of the spec's table routes). Not ported: the table cases
(PGRST205, ``bad_subquery``, ``infinite_inserts``) and ``client-error-verbosity``, which
this API does not have (README, "Compatibility with PostgREST")."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest

from tests.api.apiserver import ApiServer

JSON = "application/json; charset=utf-8"


def error(code: str, message: str, details: str | None = None) -> dict[str, Any]:
    return {"code": code, "details": details, "hint": None, "message": message}


def signed(server: ApiServer, claims: dict[str, Any], secret: str | None = None) -> str:
    return jwt.encode(claims, secret or server.jwt_secret, algorithm="HS256")


def call(client: httpx.Client, token: str) -> httpx.Response:
    return client.get("/rpc/sayhello?name=x", headers={"Authorization": f"Bearer {token}"})


# ErrorSpec.hs: context "includes the proxy-status header on the response"
#   it "works with ApiRequest error"
def test_error_spec__proxy_status_works_with_apirequest_error(client: httpx.Client) -> None:
    r = client.get("/rpc/invalid/nested/paths")
    assert (r.status_code, r.json()) == (404, error("PGRST125",
                                                    "Invalid path specified in request URL"))
    assert r.headers["proxy-status"] == "PostgREST; error=PGRST125"
    assert r.headers["content-length"] == "96"


# ErrorSpec.hs: it "works with Jwt error"
def test_error_spec__proxy_status_works_with_jwt_error(client: httpx.Client) -> None:
    r = call(client, "ey9zdGdyZXN0X3Rlc3RfYXV0aG9yIiwiaWQiOiJqZG9lIn0."
                     "y4vZuu1dDdwAl0-S00MCRWRYMlJ5YAMSir6Es6WtWx0")
    assert (r.status_code, r.json()) == (401, error("PGRST301", "Expected 3 parts in JWT; got 2"))
    assert r.headers["proxy-status"] == "PostgREST; error=PGRST301"
    assert r.headers["content-length"] == "89"


# ErrorSpec.hs: it "works with raise sqlstate custom error"
def test_error_spec__proxy_status_works_with_raise_sqlstate_custom_error(
    client: httpx.Client,
) -> None:
    r = client.get("/rpc/raise_pt402")
    assert r.status_code == 402
    assert r.json() == {"code": "PT402", "details": "Quota exceeded",
                        "hint": "Upgrade your plan", "message": "Payment Required"}
    assert r.headers["proxy-status"] == "PostgREST; error=PT402"
    assert r.headers["content-length"] == "99"


# ErrorSpec.hs: it "works with sqlstate PGRST custom error"
def test_error_spec__proxy_status_works_with_sqlstate_pgrst_custom_error(
    client: httpx.Client,
) -> None:
    r = client.get("/rpc/raise_sqlstate_test1")
    assert r.status_code == 332
    assert r.json() == {"code": "123", "details": "DEF", "hint": "XYZ", "message": "ABC"}
    assert r.headers["proxy-status"] == "PostgREST; error=123"
    assert r.headers["content-length"] == "59"


# ErrorSpec.hs: context "JWT Errors" / it "error on jwt encoded with wrong secret"
def test_error_spec__error_on_jwt_encoded_with_wrong_secret(
    client: httpx.Client, spec_server: ApiServer,
) -> None:
    r = call(client, signed(spec_server, {}, "wrong secret, but 32 characters long"))
    assert (r.status_code, r.json()) == (401, error(
        "PGRST301", "No suitable key or wrong key type",
        "None of the keys was able to decode the JWT"))


# ErrorSpec.hs: it "when role does not exist"
def test_error_spec__when_role_does_not_exist(
    client: httpx.Client, spec_server: ApiServer,
) -> None:
    r = call(client, signed(spec_server, {"role": "not existing"}))
    assert (r.status_code, r.json()) == (401, error(
        "22023", 'role "not existing" does not exist'))


# ErrorSpec.hs: context "we allow 30 seconds clock skew" / it "it should return error if
#   expired", it "... if used before it is valid", it "... if issued at future" (an hour off
#   here, so the verdict never depends on how long the call takes; the skew itself is
#   tested with a stopped clock in tests/unit/test_auth.py)
@pytest.mark.parametrize(("claim", "offset", "message"), [
    ("exp", -3600, "JWT expired"), ("nbf", 3600, "JWT not yet valid"),
    ("iat", 3600, "JWT issued at future")])
def test_error_spec__jwt_time_claims_outside_the_clock_skew(
    client: httpx.Client, spec_server: ApiServer, claim: str, offset: int, message: str,
) -> None:
    r = call(client, signed(spec_server, {claim: int(time.time()) + offset}))
    assert (r.status_code, r.json()) == (401, error("PGRST303", message))


# ErrorSpec.hs: describe "Test JWT Audience error" / it "it should return error if JWT not in
#   audience"
def test_error_spec__it_should_return_error_if_jwt_not_in_audience(
    start_spec_server: Any,
) -> None:
    server = start_spec_server(jwt_aud="spec tests")
    with server.client() as client:
        r = call(client, signed(server, {"aud": "not set"}))
    assert (r.status_code, r.json()) == (401, error("PGRST303", "JWT not in audience"))


# ErrorSpec.hs: describe "Test JWT Token format errors" / it "when partial token is provided"
def test_error_spec__when_partial_token_is_provided(client: httpx.Client) -> None:
    r = call(client, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.bm90IGFuIG9iamVjdA")
    assert (r.status_code, r.json()) == (401, error("PGRST301", "Expected 3 parts in JWT; got 2"))


# ErrorSpec.hs: it "when token is complete but random characters"
def test_error_spec__when_token_is_complete_but_random_characters(client: httpx.Client) -> None:
    r = call(client, "quifquirndsjagnrgniur.fonvoienqhhdj.iuqvnvhojah")
    assert (r.status_code, r.json()) == (401, error("PGRST301",
                                                    "JWT cryptographic operation failed"))


# ErrorSpec.hs: it "when token with algorithm 'none' is used"
def test_error_spec__when_token_with_algorithm_none_is_used(client: httpx.Client) -> None:
    r = call(client, "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.e30."
                     "yOBhlOIqn56T-4NvyEXCjfi3UmyQZ-BzXtePMO2NgRI")
    assert (r.status_code, r.json()) == (401, error(
        "PGRST301", "Wrong or unsupported encoding algorithm",
        "JWT is unsecured but expected 'alg' was not 'none'"))
