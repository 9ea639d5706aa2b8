"""Port of PostgREST's ``test/spec/Feature/OptionsSpec.hs``, context "a function"."""

from __future__ import annotations

import httpx


# OptionsSpec.hs: context "a function" / it "includes the POST method for a volatile function"
def test_options_spec__includes_the_post_method_for_a_volatile_function(
    client: httpx.Client,
) -> None:
    r = client.options("/rpc/reset_table")
    assert (r.status_code, r.headers["allow"]) == (200, "OPTIONS,POST")
    assert r.headers["access-control-allow-origin"] == "*"


# OptionsSpec.hs: it "includes the GET/HEAD/POST method for a stable function"
def test_options_spec__includes_the_get_head_post_method_for_a_stable_function(
    client: httpx.Client,
) -> None:
    r = client.options("/rpc/getallusers")
    assert (r.status_code, r.headers["allow"]) == (200, "OPTIONS,GET,HEAD,POST")


# OptionsSpec.hs: it "includes the GET/HEAD/POST method for a immutable function"
def test_options_spec__includes_the_get_head_post_method_for_an_immutable_function(
    client: httpx.Client,
) -> None:
    r = client.options("/rpc/jwt_test")
    assert (r.status_code, r.headers["allow"]) == (200, "OPTIONS,GET,HEAD,POST")


def test_options_spec__an_unknown_function_is_404(client: httpx.Client) -> None:
    # not a spec case: PostgREST plans OPTIONS like a call, so an unknown name is PGRST202
    r = client.options("/rpc/no_such_function")
    assert (r.status_code, r.json()["code"]) == (404, "PGRST202")


def test_options_spec__openapi_describes_the_spec_functions(client: httpx.Client) -> None:
    # not a spec case: every fixture shape (records, composite domains, raw parameters)
    # has its place in the OpenAPI document at /
    r = client.get("/", headers={"Accept": "application/openapi+json"})
    assert r.status_code == 200
    paths = r.json()["paths"]
    for name in ("returns_record", "returns_setof_record", "ret_composite_domain",
                 "unnamed_bytea_param", "char_param_select"):
        assert f"/rpc/{name}" in paths
