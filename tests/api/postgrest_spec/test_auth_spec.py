"""Port of PostgREST's ``test/spec/Feature/Auth/AuthSpec.hs``: its RPC cases, and its token
cases sent to a function (the spec sends them to the table ``/authors_only``). The spec's
role ``postgrest_test_author`` is our ``writer``. Not ported: the cases that sign tokens in
SQL with the pgjwt extension (``login``, ``jwt_test``) and the pre-request function that
switches role from an ``id`` claim (README, "Compatibility with PostgREST")."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest

from tests.api.apiserver import ApiServer


def bearer(token: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}"}


def signed(server: ApiServer, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, server.jwt_secret, algorithm="HS256")


# AuthSpec.hs: it "denies execution on functions that anonymous does not own"
def test_auth_spec__denies_execution_on_functions_that_anonymous_does_not_own(
    client: httpx.Client,
) -> None:
    r = client.post("/rpc/privileged_hello", json={"name": "anonymous"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


# AuthSpec.hs: it "allows execution on a function that postgrest_test_author owns"
def test_auth_spec__allows_execution_on_a_function_that_the_role_may_execute(
    client: httpx.Client, spec_server: ApiServer,
) -> None:
    r = client.post("/rpc/privileged_hello", json={"name": "jdoe"},
                    headers=bearer(spec_server.writer_token))
    assert (r.status_code, r.json()) == (200, "Privileged hello to jdoe")
    assert r.headers["content-type"] == "application/json; charset=utf-8"


# AuthSpec.hs: it "sql functions can read custom and standard claims variables"
def test_auth_spec__sql_functions_can_read_custom_and_standard_claims_variables(
    client: httpx.Client, spec_server: ApiServer,
) -> None:
    claims = {"sub": "fun", "jti": "foo", "nbf": 1300819380, "exp": 9999999999,
              "http://postgrest.com/foo": True, "iss": "joe", "role": "writer",
              "iat": 1300819380}
    r = client.post("/rpc/reveal_big_jwt", content=b"{}",
                    headers=bearer(signed(spec_server, claims)))
    assert r.json() == [{"iss": "joe", "sub": "fun", "exp": 9999999999, "nbf": 1300819380,
                         "iat": 1300819380, "jti": "foo", "http://postgrest.com/foo": True}]


# AuthSpec.hs: it "succeeds with an unexpired token", it "works with tokens which have extra
#   fields"
def test_auth_spec__succeeds_with_an_unexpired_token_with_extra_fields(
    client: httpx.Client, spec_server: ApiServer,
) -> None:
    token = signed(spec_server, {"exp": 9999999999, "role": "writer", "id": "jdoe",
                                 "key1": "value1", "a": 1})
    r = client.post("/rpc/get_current_user", json={}, headers=bearer(token))
    assert (r.status_code, r.json()) == (200, "writer")


# AuthSpec.hs: it "fails when auth header is sent empty"
def test_auth_spec__fails_when_auth_header_is_sent_empty(client: httpx.Client) -> None:
    # "Bearer " as the spec sends it: HTTP strips the trailing space (RFC 9110 §5.5)
    r = client.post("/rpc/get_current_user", json={}, headers={"Authorization": "Bearer"})
    message = "Empty JWT is sent in Authorization header"
    assert (r.status_code, r.json()) == (401, {"message": message, "code": "PGRST301",
                                               "hint": None, "details": None})
    assert r.headers["www-authenticate"] == (
        f'Bearer error="invalid_token", error_description="{message}"')
    assert r.headers["content-length"] == "100"


# AuthSpec.hs: it "fails with an expired token"
def test_auth_spec__fails_with_an_expired_token(
    client: httpx.Client, spec_server: ApiServer,
) -> None:
    token = signed(spec_server, {"exp": 1446678149, "role": "writer", "id": "jdoe"})
    r = client.post("/rpc/get_current_user", json={}, headers=bearer(token))
    assert (r.status_code, r.json()) == (401, {"message": "JWT expired", "code": "PGRST303",
                                               "hint": None, "details": None})
    assert r.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="JWT expired"')


# AuthSpec.hs: it "hides tables from users with invalid JWT"
def test_auth_spec__refuses_users_with_invalid_jwt(client: httpx.Client) -> None:
    r = client.post("/rpc/get_current_user", json={}, headers=bearer(
        "ey9zdGdyZXN0X3Rlc3RfYXV0aG9yIiwiaWQiOiJqZG9lIn0."
        "y4vZuu1dDdwAl0-S00MCRWRYMlJ5YAMSir6Es6WtWx0"))
    assert r.status_code == 401
    assert r.json()["message"] == "Expected 3 parts in JWT; got 2"
    assert r.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="Expected 3 parts in JWT; got 2"')


# AuthSpec.hs: it "should fail when jwt contains no claims", it "hides tables from users with
#   JWT that contain no claims about role" (a token without a role is the anonymous role:
#   privileged_hello, which anonymous may not call, answers 401)
@pytest.mark.parametrize("claims", [{}, {"id": "jdoe"}], ids=["no claims", "no role claim"])
def test_auth_spec__jwt_without_a_role_claim_is_anonymous(
    client: httpx.Client, spec_server: ApiServer, claims: dict[str, Any],
) -> None:
    r = client.post("/rpc/privileged_hello", json={"name": "x"},
                    headers=bearer(signed(spec_server, claims)))
    assert r.status_code == 401


# AuthSpec.hs: it "recovers after 401 error with logged in user"
def test_auth_spec__recovers_after_401_error_with_logged_in_user(
    client: httpx.Client, spec_server: ApiServer,
) -> None:
    assert client.post("/rpc/privileged_hello", json={"name": "x"}).status_code == 401
    auth = bearer(spec_server.writer_token)
    assert client.post("/rpc/problem", content=b"", headers=auth).status_code == 400
    r = client.post("/rpc/privileged_hello", json={"name": "jdoe"}, headers=auth)
    assert r.status_code == 200


# AuthSpec.hs: it "fails when the exp claim is not a number", it "fails when the nbf claim is
#   not a number", it "fails when the iat claim is not a number"
@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_auth_spec__fails_when_a_time_claim_is_not_a_number(
    client: httpx.Client, spec_server: ApiServer, claim: str,
) -> None:
    token = signed(spec_server, {claim: "invalid", "role": "writer"})
    r = client.post("/rpc/get_current_user", json={}, headers=bearer(token))
    assert (r.status_code, r.json()) == (401, {
        "code": "PGRST303", "details": None, "hint": None,
        "message": f"The JWT '{claim}' claim must be a number"})


# AuthSpec.hs: it "fails when the aud claim has a single value and it's not a string", it
#   "fails when the aud claim is an array but it has non-string elements"
@pytest.mark.parametrize("aud", [{"invalid": "value"}, [{"invalid": "value"}, "test"]],
                         ids=["object", "array with an object"])
def test_auth_spec__fails_when_the_aud_claim_is_not_strings(
    client: httpx.Client, spec_server: ApiServer, aud: object,
) -> None:
    token = signed(spec_server, {"aud": aud, "role": "writer"})
    r = client.post("/rpc/get_current_user", json={}, headers=bearer(token))
    assert (r.status_code, r.json()) == (401, {
        "code": "PGRST303", "details": None, "hint": None,
        "message": "The JWT 'aud' claim must be a string or an array of strings"})


# AuthSpec.hs: it "allows 'Bearer' and 'bearer' as authentication schemes"
def test_auth_spec__allows_bearer_and_lower_case_bearer_as_authentication_schemes(
    client: httpx.Client, spec_server: ApiServer,
) -> None:
    for scheme in ("Bearer", "bearer"):
        r = client.post("/rpc/get_current_user", json={},
                        headers=bearer(spec_server.writer_token, scheme))
        assert (r.status_code, r.json()) == (200, "writer")
