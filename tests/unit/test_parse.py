"""api/rpc/parse.py: HTTP request → RpcRequest, pure (no database)."""

from __future__ import annotations

from typing import Any

import pytest

from api.errors import ApiError
from api.rpc.parse import (
    Filter,
    HttpInput,
    Logic,
    OrderTerm,
    SelectItem,
    is_filter,
    parse_accept,
    parse_json_body,
    parse_order,
    parse_request,
    parse_select,
)
from api.rpc.preferences import Preferences

SCHEMAS = ("api", "api_v2")


def req(query: str = "", method: str = "GET", body: bytes = b"", **headers: str) -> Any:
    hdrs = {k.replace("_", "-").lower(): v for k, v in headers.items()}
    return parse_request(HttpInput(method, "/rpc/f", query, hdrs, body), "f", SCHEMAS)


def error_of(fn: Any, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        fn(*args, **kwargs)
    return info.value


def test_get_arguments_and_repeats() -> None:
    r = req("a=1&b=x&a=2")
    assert r.args == {"a": ("1", "2"), "b": ("x",)}
    assert r.arg_names == ("a", "b")


def test_filters_are_not_arguments() -> None:
    r = req("a=1&id=gt.2&name=not.in.(x,%22y,z%22)&flag=is.null&n=eq")
    assert r.args == {"a": ("1",), "n": ("eq",)}
    assert r.filters == (
        Filter("id", "gt", "2"),
        Filter("name", "in", ("x", "y,z"), negated=True),
        Filter("flag", "is", "null"),
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("eq.1", True), ("not.eq.1", True), ("in.(1,2)", True), ("is.null", True), ("eq", False),
     ("hello", False), ("2024-01-01", False), ("gt.", True), ("like.a*", True),
     ("not.like", False), ("fts.x", False)],
)
def test_is_filter(value: str, expected: bool) -> None:
    assert is_filter(value) is expected


def test_reserved_keys() -> None:
    r = req("select=id,label:name,score::text&order=id.desc.nullslast,name&limit=5&offset=2")
    assert r.select == (SelectItem("id"), SelectItem("name", "label"), SelectItem("score", None,
                                                                                  "text"))
    assert r.order == (OrderTerm("id", True, "last"), OrderTerm("name"))
    assert (r.offset, r.limit) == (2, 5)
    assert r.args == {}


def test_logic_tree() -> None:
    r = req("or=(id.eq.1,and(name.like.a*,score.gt.2))")
    assert r.filters == (
        Logic("or", (Filter("id", "eq", "1"),
                     Logic("and", (Filter("name", "like", "a*"), Filter("score", "gt", "2"))))),
    )
    assert req("not.and=(id.eq.1,id.eq.2)").filters[0] == Logic(
        "and", (Filter("id", "eq", "1"), Filter("id", "eq", "2")), negated=True
    )


@pytest.mark.parametrize(
    "query",
    ["order=id.sideways", "limit=abc", "offset=-1", "select=f(x)", "select=a::evil",
     "x=is.maybe", "x=in.1,2", "or=(id.eq.1", "or=id.eq.1", "or=(nonsense)"],
)
def test_bad_query_parameters_are_400(query: str) -> None:
    err = error_of(req, query)
    assert (err.status, err.code) == (400, "PGRST100")


def test_negative_limit_is_416() -> None:
    err = error_of(req, "limit=-1")
    assert (err.status, err.code) == (416, "PGRST103")


@pytest.mark.parametrize(
    ("query", "range_header", "offset", "limit"),
    [("", "0-9", 0, 10), ("", "5-", 5, None), ("limit=3", "0-9", 0, 3),
     ("offset=2&limit=10", "0-4", 2, 3), ("", "items=2-3", 2, 2), ("", "junk", 0, None)],
)
def test_range(query: str, range_header: str, offset: int, limit: int | None) -> None:
    r = req(query, range=range_header)
    assert (r.offset, r.limit) == (offset, limit)


def test_range_lower_above_upper_is_416() -> None:
    err = error_of(req, "", range="5-2")
    assert (err.status, err.code) == (416, "PGRST103")
    assert err.details is not None and "lower boundary" in err.details


def test_post_json_body() -> None:
    r = req("id=eq.1", method="POST", body=b'{"a": 1, "b": [1, 2]}')
    assert r.body_kind == "json"
    assert r.json_keys == ("a", "b")
    assert r.filters == (Filter("id", "eq", "1"),)
    assert req(method="POST", body=b"").json_body == b"{}"
    assert req(method="POST", body=b'[{"a": 1}, {"a": 2}]').json_keys == ("a",)


@pytest.mark.parametrize("body", [b"{", b"[1]", b"3", b'"x"', b"nul"])
def test_post_invalid_json_is_400(body: bytes) -> None:
    err = error_of(req, method="POST", body=body)
    assert (err.status, err.code) == (400, "PGRST102")


def test_post_query_arguments_must_be_filters() -> None:
    err = error_of(req, "a=1", method="POST", body=b"{}")
    assert (err.status, err.code) == (400, "PGRST100")


def test_post_form_and_raw_bodies() -> None:
    form = req(method="POST", body=b"a=1&b=two", content_type="application/x-www-form-urlencoded")
    assert (form.body_kind, form.args) == ("form", {"a": ("1",), "b": ("two",)})
    text = req(method="POST", body=b"hello", content_type="text/plain")
    assert (text.body_kind, text.raw_body) == ("text", b"hello")
    binary = req(method="POST", body=b"\x00\x01", content_type="application/octet-stream")
    assert binary.body_kind == "binary"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_other_methods_are_405(method: str) -> None:
    err = error_of(req, method=method)
    assert (err.status, err.code) == (405, "PGRST101")
    assert err.message == f"Cannot use the {method} method on RPC"


@pytest.mark.parametrize(
    ("accept", "media"),
    [(None, "json"), ("*/*", "json"), ("application/json", "json"), ("text/csv", "csv"),
     ("application/vnd.pgrst.object+json", "object"),
     ("application/vnd.pgrst.object+json;nulls=stripped", "object"),
     ("text/html, text/csv;q=0.5", "csv"), ("text/csv;q=0.2, application/json", "json"),
     ("text/plain;q=1, application/json;q=0.1", "text"),
     ("text/html;q=1, application/json;q=0.1", "json")],
)
def test_accept(accept: str | None, media: str) -> None:
    assert parse_accept(accept) == media


def test_unknown_accept_is_406() -> None:
    err = error_of(parse_accept, "application/xml, text/html")
    assert (err.status, err.code) == (406, "PGRST107")
    assert err.message == "None of these media types are available: application/xml, text/html"


def test_profiles() -> None:
    assert req().schema == "api"
    assert req(accept_profile="api_v2").schema == "api_v2"
    assert req(method="POST", content_profile="api_v2").schema == "api_v2"
    assert req(method="POST", accept_profile="api_v2").schema == "api"  # POST: Content-Profile
    err = error_of(req, accept_profile="private")
    assert (err.status, err.code, err.message) == (406, "PGRST106", "Invalid schema: private")
    assert err.hint == "Only the following schemas are exposed: api, api_v2"


def test_prefer() -> None:
    r = req(prefer="count=exact, tx=rollback")
    assert r.preferences == Preferences(count="exact", tx="rollback")
    assert req(prefer="return=representation, whatever").preferences == Preferences()
    err = error_of(req, prefer="handling=strict, bogus=1")
    assert (err.status, err.code) == (400, "PGRST122")


def test_parse_helpers() -> None:
    assert parse_order("a,b.desc") == (OrderTerm("a"), OrderTerm("b", True))
    assert parse_select('"a,b",c') == (SelectItem("a,b"), SelectItem("c"))
    assert parse_json_body(b"  ") == (b"{}", ())


@pytest.mark.parametrize("value", ["fts(english).impossible", "not.fts(english).fun",
                                   "plfts.impossible", "phfts(english).x", "wfts.x"])
def test_full_text_filters_are_refused_not_taken_as_arguments(value: str) -> None:
    err = error_of(req, f"text_search={value}")
    assert (err.status, err.code) == (400, "PGRST100")
    assert "full-text search filters" in (err.details or "")


def test_range_is_read_on_get_only() -> None:
    assert (req("", Range="1-1").offset, req("", Range="1-1").limit) == (1, 1)
    for method in ("POST", "HEAD"):
        parsed = req("", method=method, Range="1-1")
        assert (parsed.offset, parsed.limit) == (0, None)


def test_columns_pick_the_arguments_of_a_post_body() -> None:
    parsed = req("columns=a,b", method="POST", body=b'{"a": 1, "c": 3}')
    assert parsed.arg_names == ("a", "b")
    assert parsed.json_body == b'{"a":1}'


def test_a_csv_body_gives_the_first_rows_arguments() -> None:
    parsed = req(method="POST", body=b"a,b\n1,\"x,y\"\n3,4", content_type="text/csv")
    assert parsed.args == {"a": ("1",), "b": ("x,y",)}
    err = error_of(req, method="POST", body=b"a\n1,2", content_type="text/csv")
    assert (err.status, err.code) == (400, "PGRST102")
