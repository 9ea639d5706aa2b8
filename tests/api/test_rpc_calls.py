"""/rpc/<name> over real HTTP against the fixture functions (tests/api/sql/rpc_fixture.sql)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest

from tests.api.apiserver import ApiServer


@pytest.fixture(scope="module")
def client(api_server: ApiServer) -> Iterator[httpx.Client]:
    with api_server.client() as c:
        yield c


def bearer(api_server: ApiServer, role: str = "writer", **claims: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_server.token(role, sub='tester', **claims)}"}


# --- arguments, methods, shapes --------------------------------------------------------------


def test_scalar_get_post_defaults(client: httpx.Client) -> None:
    r = client.get("/rpc/add", params={"a": 1})
    assert (r.status_code, r.json()) == (200, 11)
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert client.get("/rpc/add", params={"a": 1, "b": 2}).json() == 3
    assert client.post("/rpc/add", json={"a": 4, "b": 5}).json() == 9
    assert client.post("/rpc/add", json=[{"a": 4}]).json() == 14
    assert client.get("/rpc/hello").json() == "hello world"
    assert client.get("/rpc/nothing_found").json() is None
    form = client.post("/rpc/add", content=b"a=2&b=3",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.json() == 5


def test_head_and_options(client: httpx.Client) -> None:
    head = client.head("/rpc/get_items")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-range"] == "0-4/*"
    options = client.options("/rpc/add")
    assert options.status_code == 200
    assert "POST" in options.headers["allow"]


def test_shapes(client: httpx.Client) -> None:
    items = client.get("/rpc/get_items").json()
    assert [i["id"] for i in items] == [1, 2, 3, 4, 5]
    assert items[0] == {"id": 1, "name": "alpha", "score": 1.5, "tags": ["a"]}
    assert client.get("/rpc/get_items", params={"min_id": 9}).json() == []
    assert client.get("/rpc/numbers", params={"n": 3}).json() == [1, 2, 3]
    assert client.get("/rpc/item", params={"item_id": 2}).json()["name"] == "beta"
    assert client.get("/rpc/make_pair", params={"a": 1, "b": "x"}).json() == {"a": 1, "b": "x"}
    assert client.get("/rpc/out_params", params={"x": 4}).json() == {"doubled": 8,
                                                                      "label": "x=4"}
    void = client.post("/rpc/noop")
    assert (void.status_code, void.content) == (204, b"")


def test_variadic_and_typed_arguments(client: httpx.Client) -> None:
    assert client.get("/rpc/sum_all", params=[("vals", "1"), ("vals", "2"), ("vals", "4")]
                      ).json() == 7
    assert client.post("/rpc/sum_all", json={"vals": [1, 2]}).json() == 3
    typed = client.get("/rpc/typed", params={"d": "2024-01-31", "ts": "2024-01-31T10:00:00Z",
                                             "flag": "true", "amount": "12345678901234567890.5",
                                             "ids": "{1,2}"}).json()
    assert typed["d"] == "2024-01-31" and typed["flag"] is True
    assert typed["amount"] == 12345678901234567890.5 and typed["ids"] == [1, 2]
    bad = client.get("/rpc/add", params={"a": "abc"})
    assert (bad.status_code, bad.json()["code"]) == (400, "22P02")


def test_single_unnamed_parameter(client: httpx.Client) -> None:
    assert client.post("/rpc/echo_json", json={"x": [1, 2]}).json() == {"x": [1, 2]}
    r = client.post("/rpc/echo_text", content=b"plain words",
                    headers={"Content-Type": "text/plain"})
    assert r.json() == "plain words"


def test_overloads_and_unknown(client: httpx.Client) -> None:
    assert client.get("/rpc/over2", params={"a": 1}).json() == "a"
    assert client.get("/rpc/over2", params={"a": 1, "b": 2}).json() == "a,b"
    r = client.get("/rpc/over", params={"a": 1})
    assert (r.status_code, r.json()["code"]) == (300, "PGRST203")
    r = client.get("/rpc/get_itemz")
    assert r.status_code == 404
    assert r.json() == {
        "code": "PGRST202",
        "details": "Searched for the function test_api.get_itemz without parameters, but no "
                   "matches were found in the schema cache.",
        "hint": "Perhaps you meant to call the function test_api.get_items",
        "message": "Could not find the function test_api.get_itemz without parameters in the "
                   "schema cache",
    }
    r = client.get("/rpc/add", params={"a": 1, "zzz": 2})
    assert (r.status_code, r.json()["code"]) == (404, "PGRST202")
    assert client.get("/rpc/add/deeper").status_code == 404
    r = client.put("/rpc/add", json={})
    assert (r.status_code, r.json()["code"]) == (405, "PGRST101")
    r = client.post("/rpc/add", content=b"{not json")
    assert (r.status_code, r.json()["code"]) == (400, "PGRST102")


def test_get_on_a_writing_function_is_405(client: httpx.Client, api_server: ApiServer) -> None:
    r = client.get("/rpc/write_log", params={"v": "x"}, headers=bearer(api_server))
    assert (r.status_code, r.json()["code"]) == (405, "25006")
    r = client.post("/rpc/write_log", json={"v": "x"}, headers=bearer(api_server))
    assert r.status_code == 200 and isinstance(r.json(), int)
    assert api_server.db.psql("select who from test_api.log order by id desc limit 1") == "writer"


# --- result filtering, paging, media types ---------------------------------------------------


def test_filters_select_order(client: httpx.Client) -> None:
    def ids(**params: str) -> list[int]:
        return [i["id"] for i in client.get("/rpc/get_items", params=params).json()]

    assert ids(id="gt.2") == [3, 4, 5]
    assert ids(id="not.in.(1,3,5)") == [2, 4]
    assert ids(name="like.*ta") == [2, 4]
    assert ids(name="ilike.A*") == [1]
    assert ids(score="is.null") == [3]
    assert ids(score="not.is.null", order="score.desc") == [5, 4, 2, 1]
    assert ids(order="score.desc.nullslast") == [5, 4, 2, 1, 3]
    assert ids(**{"or": "(id.eq.1,name.eq.delta)"}) == [1, 4]
    assert ids(min_id="2", id="lte.3") == [2, 3]
    sel = client.get("/rpc/get_items", params={"select": "ident:id,score::text", "id": "eq.1"})
    assert sel.json() == [{"ident": 1, "score": "1.5"}]
    bad = client.get("/rpc/get_items", params={"nope": "eq.1"})
    assert (bad.status_code, bad.json()["code"]) == (400, "42703")


def test_limit_offset_range_and_count(client: httpx.Client) -> None:
    r = client.get("/rpc/get_items", params={"limit": 2, "offset": 1})
    assert [i["id"] for i in r.json()] == [2, 3]
    assert r.headers["content-range"] == "1-2/*" and r.status_code == 200
    r = client.get("/rpc/get_items", headers={"Range": "0-1", "Prefer": "count=exact"})
    assert (r.status_code, r.headers["content-range"]) == (206, "0-1/5")
    r = client.get("/rpc/get_items", headers={"Prefer": "count=exact"})
    assert (r.status_code, r.headers["content-range"]) == (200, "0-4/5")
    r = client.get("/rpc/get_items", params={"offset": 10}, headers={"Prefer": "count=exact"})
    assert r.status_code == 416
    assert r.json()["code"] == "PGRST103"
    assert r.json()["details"] == "An offset of 10 was requested, but there are only 5 rows."
    r = client.get("/rpc/get_items", params={"min_id": 9})
    assert r.headers["content-range"] == "*/*"


def test_singular_object(client: httpx.Client) -> None:
    accept = {"Accept": "application/vnd.pgrst.object+json"}
    r = client.get("/rpc/get_items", params={"id": "eq.2"}, headers=accept)
    assert r.json()["name"] == "beta"
    assert r.headers["content-type"].startswith("application/vnd.pgrst.object+json")
    r = client.get("/rpc/get_items", headers=accept)
    assert r.status_code == 406
    assert r.json() == {"code": "PGRST116", "details": "The result contains 5 rows",
                        "hint": None,
                        "message": "Cannot coerce the result to a single JSON object"}
    r = client.get("/rpc/get_items", params={"accept": "x"}, headers={"Accept": "text/html"})
    assert (r.status_code, r.json()["code"]) == (406, "PGRST107")


def test_csv(client: httpx.Client) -> None:
    r = client.get("/rpc/get_items", params={"select": "id,name", "limit": 2},
                   headers={"Accept": "text/csv"})
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.text == "id,name\n1,alpha\n2,beta"
    tricky = client.get("/rpc/csv_text", headers={"Accept": "text/csv"}).text
    assert list(csv.reader(io.StringIO(tricky))) == [
        ["a", "b"], ["plain", "with,comma"], ['with "quote"', ""], ["line\nbreak", "x"]]


def test_profiles(client: httpx.Client) -> None:
    r = client.get("/rpc/add", params={"a": 2, "b": 3})
    assert (r.json(), r.headers["content-profile"]) == (5, "test_api")
    r = client.get("/rpc/add", params={"a": 2, "b": 3}, headers={"Accept-Profile": "test_api_v2"})
    assert (r.json(), r.headers["content-profile"]) == (6, "test_api_v2")
    r = client.post("/rpc/add", json={"a": 2, "b": 3}, headers={"Content-Profile": "test_api_v2"})
    assert r.json() == 6
    assert client.get("/rpc/v2_only").status_code == 404
    r = client.get("/rpc/add", params={"a": 1}, headers={"Accept-Profile": "private"})
    assert (r.status_code, r.json()["code"]) == (406, "PGRST106")


# --- auth, context, errors ---------------------------------------------------------------------


def test_missing_grant_anonymous_401_authenticated_403(client: httpx.Client,
                                                       api_server: ApiServer) -> None:
    r = client.get("/rpc/secret")
    assert (r.status_code, r.json()["code"]) == (401, "42501")
    assert r.headers["www-authenticate"] == "Bearer"
    r = client.get("/rpc/secret", headers=bearer(api_server))
    assert (r.status_code, r.json()["code"]) == (403, "42501")
    r = client.get("/rpc/add", params={"a": 1}, headers={"Authorization": "Bearer a.b.c"})
    assert (r.status_code, r.json()["code"]) == (401, "PGRST301")
    assert r.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    r = client.get("/rpc/add", params={"a": 1}, headers=bearer(api_server, "postgres"))
    assert r.status_code in (401, 403)


def test_gucs_visible_inside_the_function(client: httpx.Client, api_server: ApiServer) -> None:
    me = client.get("/rpc/whoami", headers={"X-Thing": "42", "Cookie": "a=1; b=two"}).json()
    assert me["current_user"] == "web_anon" and me["role"] == "web_anon"
    assert me["claims"] == {"role": "web_anon"}
    assert (me["method"], me["path"]) == ("GET", "/rpc/whoami")
    assert me["headers"]["x-thing"] == "42"
    assert me["cookies"] == {"a": "1", "b": "two"}
    assert me["read_only"] == "on"
    assert me["search_path"] == '"test_api", "public"'
    writer = client.post("/rpc/whoami", json={}, headers=bearer(api_server, extra="yes")).json()
    assert writer["current_user"] == "writer" and writer["method"] == "POST"
    assert writer["claims"]["extra"] == "yes" and writer["claims"]["sub"] == "tester"
    # the anonymous call afterwards is anonymous again (connections switch back)
    for _ in range(6):
        assert client.get("/rpc/whoami").json()["current_user"] == "web_anon"
    definer = client.get("/rpc/whoami_definer").json()
    assert (definer["role"], definer["session_user"]) == ("web_anon", "authenticator")


def test_response_headers_and_status_from_gucs(client: httpx.Client) -> None:
    r = client.post("/rpc/custom_response", json={})
    assert r.status_code == 202
    assert r.headers["x-custom"] == "yes" and r.headers["cache-control"] == "max-age=60"
    assert r.json() == {"ok": True}


def test_raised_errors(client: httpx.Client) -> None:
    r = client.get("/rpc/raise_pt")
    assert (r.status_code, r.json()["message"]) == (402, "Payment required")
    r = client.get("/rpc/raise_plain")
    assert r.status_code == 400
    assert r.json() == {"code": "P0001", "details": "some detail", "hint": "some hint",
                        "message": "plain failure"}
    r = client.get("/rpc/raise_pgrst")
    assert (r.status_code, r.headers["x-teapot"]) == (418, "yes")
    assert r.json() == {"code": "123", "details": "d", "hint": "h", "message": "Custom"}


def test_streamed_results(client: httpx.Client) -> None:
    r = client.get("/rpc/big_set", params={"n": 2500})
    rows = r.json()
    assert len(rows) == 2500 and rows[-1] == {"i": 2500, "label": "row 2500"}
    assert client.get("/rpc/big_set", params={"n": 0}).json() == []
    text = client.get("/rpc/big_set", params={"n": 1500, "i": "gt.1498"},
                      headers={"Accept": "text/csv"}).text
    assert text == "i,label\n1499,row 1499\n1500,row 1500"
