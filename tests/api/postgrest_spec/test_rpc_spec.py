"""Port of PostgREST's ``test/spec/Feature/Query/RpcSpec.hs`` (the cases that apply to a
functions-only API), against our own fixture functions of the same names and shapes.

Each test is named ``test_rpc_spec__<the spec case's description>`` and quotes, in a
comment, the ``context``/``it`` lines it comes from. Cases for features we do not have
(resource embedding, full-text filters, ``app.settings``) are listed in
README.md's "Compatibility with PostgREST" section instead of here.
"""

from __future__ import annotations

import httpx
import pytest

from tests.api.apiserver import ApiServer

JSON = "application/json; charset=utf-8"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
COUNT = {"Prefer": "count=exact"}


def ok_json(r: httpx.Response, body: object, status: int = 200) -> None:
    assert (r.status_code, r.json()) == (status, body), r.text
    assert r.headers["content-type"] == JSON


def no_rpc(r: httpx.Response, *, message: str, details: str, hint: str | None) -> None:
    assert r.status_code == 404
    assert r.json() == {"code": "PGRST202", "message": message, "details": details,
                        "hint": hint}


# --- a proc that returns a set --------------------------------------------------------------

# RpcSpec.hs: context "a proc that returns a set" / "returns paginated results"
#   it "using the Range header"
def test_rpc_spec__paginated_results_using_the_range_header(client: httpx.Client) -> None:
    r = client.get("/rpc/getitemrange?min=2&max=4", headers={"Range": "1-1"})
    assert (r.status_code, r.json()) == (200, [{"id": 4}])
    assert r.headers["content-range"] == "1-1/*"


# RpcSpec.hs: "returns paginated results" / it "using limit and offset"
def test_rpc_spec__paginated_results_using_limit_and_offset(client: httpx.Client) -> None:
    post = client.post("/rpc/getitemrange?limit=1&offset=1", json={"min": 2, "max": 4})
    get = client.get("/rpc/getitemrange?min=2&max=4&limit=1&offset=1")
    for r in (post, get):
        assert (r.status_code, r.json()) == (200, [{"id": 4}])
        assert (r.headers["content-range"], r.headers["content-length"]) == ("1-1/*", "10")
    head = client.head("/rpc/getitemrange?min=2&max=4&limit=1&offset=1")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"] == JSON
    assert head.headers["content-range"] == "1-1/*"
    assert "content-length" not in head.headers


# RpcSpec.hs: "includes total count if requested" / it "using the Range header"
def test_rpc_spec__total_count_using_the_range_header(client: httpx.Client) -> None:
    r = client.get("/rpc/getitemrange?min=2&max=4", headers={"Range": "1-1", **COUNT})
    assert (r.status_code, r.json()) == (206, [{"id": 4}])
    assert r.headers["content-range"] == "1-1/2"


# RpcSpec.hs: "includes total count if requested" / it "using limit and offset"
def test_rpc_spec__total_count_using_limit_and_offset(client: httpx.Client) -> None:
    post = client.post("/rpc/getitemrange?limit=1&offset=1", json={"min": 2, "max": 4},
                       headers=COUNT)
    get = client.get("/rpc/getitemrange?min=2&max=4&limit=1&offset=1", headers=COUNT)
    for r in (post, get):
        assert (r.status_code, r.json()) == (206, [{"id": 4}])
        assert r.headers["content-range"] == "1-1/2"
    head = client.head("/rpc/getitemrange?min=2&max=4&limit=1&offset=1", headers=COUNT)
    assert (head.status_code, head.headers["content-range"]) == (206, "1-1/2")
    assert head.headers["content-type"] == JSON


# RpcSpec.hs: it "includes exact count if requested" (the part without embedding)
def test_rpc_spec__includes_exact_count_if_requested(client: httpx.Client) -> None:
    r = client.head("/rpc/getallprojects", headers=COUNT)
    assert (r.status_code, r.headers["content-range"]) == (200, "0-4/5")


# RpcSpec.hs: it "includes exact count of 1 for functions that return a single scalar,
#   domain or composite"
def test_rpc_spec__exact_count_of_1_for_a_single_scalar_domain_or_composite(
    client: httpx.Client,
) -> None:
    for path, body in (("/rpc/add_them?a=3&b=4", 7), ("/rpc/ret_domain?val=8", 8),
                       ("/rpc/ret_point_2d", {"x": 10, "y": 5})):
        r = client.get(path, headers=COUNT)
        assert (r.status_code, r.json(), r.headers["content-range"]) == (200, body, "0-0/1")


# RpcSpec.hs: "a proc that returns a set" / it "returns proper json"
def test_rpc_spec__a_set_returns_proper_json(client: httpx.Client) -> None:
    ok_json(client.post("/rpc/getitemrange", json={"min": 2, "max": 4}), [{"id": 3}, {"id": 4}])
    ok_json(client.get("/rpc/getitemrange?min=2&max=4"), [{"id": 3}, {"id": 4}])


# RpcSpec.hs: "a proc that returns a set" / it "returns CSV"
def test_rpc_spec__returns_csv(client: httpx.Client) -> None:
    csv = {"Accept": "text/csv"}
    post = client.post("/rpc/getitemrange", json={"min": 2, "max": 4}, headers=csv)
    get = client.get("/rpc/getitemrange?min=2&max=4", headers=csv)
    head = client.head("/rpc/getitemrange?min=2&max=4", headers=csv)
    for r in (post, get, head):
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert post.text == get.text == "id\n3\n4"


# RpcSpec.hs: context "ignores Range header when method is different than GET"
#   it "without limit and offset"
def test_rpc_spec__ignores_range_on_other_methods_without_limit_and_offset(
    client: httpx.Client,
) -> None:
    headers = {"Range": "1-1", **COUNT}
    r = client.post("/rpc/getitemrange", json={"min": 2, "max": 4}, headers=headers)
    assert (r.status_code, r.json()) == (200, [{"id": 3}, {"id": 4}])
    assert r.headers["content-range"] == "0-1/2"
    head = client.head("/rpc/getitemrange?min=2&max=4", headers=headers)
    assert (head.status_code, head.headers["content-range"]) == (200, "0-1/2")
    assert head.headers["content-type"] == JSON


# RpcSpec.hs: "ignores Range header when method is different than GET"
#   it "with limit and offset"
def test_rpc_spec__ignores_range_on_other_methods_with_limit_and_offset(
    client: httpx.Client,
) -> None:
    headers = {"Range": "1-1", **COUNT}
    r = client.post("/rpc/getitemrange?limit=2&offset=1", json={"min": 2, "max": 5},
                    headers=headers)
    assert (r.status_code, r.json()) == (206, [{"id": 4}, {"id": 5}])
    assert r.headers["content-range"] == "1-2/3"
    head = client.head("/rpc/getitemrange?min=2&max=5&limit=2&offset=1", headers=headers)
    assert (head.status_code, head.headers["content-range"]) == (206, "1-2/3")


# RpcSpec.hs: "ignores Range header when method is different than GET"
#   it "does not throw an invalid range error"
def test_rpc_spec__ignored_range_does_not_throw_an_invalid_range_error(
    client: httpx.Client,
) -> None:
    headers = {"Range": "0-0", **COUNT}
    r = client.post("/rpc/getitemrange?limit=2&offset=1", json={"min": 2, "max": 5},
                    headers=headers)
    assert (r.status_code, r.json()) == (206, [{"id": 4}, {"id": 5}])
    assert r.headers["content-range"] == "1-2/3"
    head = client.head("/rpc/getitemrange?min=2&max=5&limit=2&offset=1", headers=headers)
    assert (head.status_code, head.headers["content-range"]) == (206, "1-2/3")


# --- unknown function ---------------------------------------------------------------------

# RpcSpec.hs: context "unknown function" / it "returns 404"
def test_rpc_spec__unknown_function_returns_404(client: httpx.Client) -> None:
    assert client.post("/rpc/fakefunc", json={}).status_code == 404


# RpcSpec.hs: it "should fail with 404 on unknown proc name"
def test_rpc_spec__should_fail_with_404_on_unknown_proc_name(client: httpx.Client) -> None:
    assert client.get("/rpc/fake").status_code == 404


# RpcSpec.hs: it "should fail with 404 and hint the closest proc on unknown proc name"
def test_rpc_spec__404_and_hint_the_closest_proc_on_unknown_proc_name(
    client: httpx.Client,
) -> None:
    r = client.get("/rpc/sayhell")
    no_rpc(r, hint="Perhaps you meant to call the function test.sayhello",
           message="Could not find the function test.sayhell without parameters in the "
           "schema cache",
           details="Searched for the function test.sayhell without parameters, but no "
           "matches were found in the schema cache.")
    assert (r.headers["content-length"], r.headers["content-type"]) == ("291", JSON)


# RpcSpec.hs: it "should fail with 404 on unknown proc args"
def test_rpc_spec__should_fail_with_404_on_unknown_proc_args(client: httpx.Client) -> None:
    assert client.get("/rpc/sayhello").status_code == 404
    assert client.get("/rpc/sayhello?any_arg=value").status_code == 404


# RpcSpec.hs: it "should fail with 404 and hint the closest args on unknown proc args"
def test_rpc_spec__404_and_hint_the_closest_args_on_unknown_proc_args(
    client: httpx.Client,
) -> None:
    no_rpc(client.get("/rpc/sayhello?nam=Peter"),
           hint="Perhaps you meant to call the function test.sayhello(name)",
           message="Could not find the function test.sayhello(nam) in the schema cache",
           details="Searched for the function test.sayhello with parameter nam, but no "
           "matches were found in the schema cache.")


# RpcSpec.hs: it "should not ignore unknown args and fail with 404"
def test_rpc_spec__should_not_ignore_unknown_args_and_fail_with_404(
    client: httpx.Client,
) -> None:
    no_rpc(client.get("/rpc/add_them?a=1&b=2&smthelse=blabla"),
           hint="Perhaps you meant to call the function test.add_them(a, b)",
           message="Could not find the function test.add_them(a, b, smthelse) in the schema "
           "cache",
           details="Searched for the function test.add_them with parameters a, b, smthelse, "
           "but no matches were found in the schema cache.")


# RpcSpec.hs: it "should fail with 404 for overloaded functions with unknown args"
def test_rpc_spec__should_fail_with_404_for_overloaded_functions_with_unknown_args(
    client: httpx.Client,
) -> None:
    no_rpc(client.get("/rpc/overloaded?wrong_arg=value"), hint=None,
           message="Could not find the function test.overloaded(wrong_arg) in the schema "
           "cache",
           details="Searched for the function test.overloaded with parameter wrong_arg, but "
           "no matches were found in the schema cache.")
    no_rpc(client.get("/rpc/overloaded?a=1&b=2&wrong_arg=value"),
           hint="Perhaps you meant to call the function test.overloaded(a, b, c)",
           message="Could not find the function test.overloaded(a, b, wrong_arg) in the "
           "schema cache",
           details="Searched for the function test.overloaded with parameters a, b, "
           "wrong_arg, but no matches were found in the schema cache.")


# RpcSpec.hs: context "ambiguous overloaded functions with same parameters' names but
#   different types" / it "should fail with 300 Multiple Choices without explicit type casts"
def test_rpc_spec__should_fail_with_300_multiple_choices_without_explicit_type_casts(
    client: httpx.Client,
) -> None:
    r = client.get("/rpc/overloaded_same_args?arg=value")
    assert r.status_code == 300
    assert r.json() == {
        "hint": "Try renaming the parameters or the function itself in the database so "
        "function overloading can be resolved",
        "message": "Could not choose the best candidate function between: "
        "test.overloaded_same_args(arg => integer), test.overloaded_same_args(arg => xml), "
        "test.overloaded_same_args(arg => text, num => integer)",
        "code": "PGRST203", "details": None}
    assert (r.headers["content-length"], r.headers["content-type"]) == ("353", JSON)


# RpcSpec.hs: it "works when having uppercase identifiers"
def test_rpc_spec__works_when_having_uppercase_identifiers(client: httpx.Client) -> None:
    ok_json(client.get("/rpc/quotedFunction?user=mscott&fullName=Michael Scott&SSN=401-32-XXXX"),
            {"user": "mscott", "fullName": "Michael Scott", "SSN": "401-32-XXXX"})
    body = {"user": "dschrute", "fullName": "Dwight Schrute", "SSN": "030-18-XXXX"}
    ok_json(client.post("/rpc/quotedFunction", json=body), body)


# --- shaping the response returned by a proc ----------------------------------------------

# RpcSpec.hs: context "shaping the response returned by a proc" / it "returns a project"
def test_rpc_spec__returns_a_project(client: httpx.Client) -> None:
    project = [{"id": 1, "name": "Windows 7", "client_id": 1}]
    assert client.post("/rpc/getproject", json={"id": 1}).json() == project
    assert client.get("/rpc/getproject?id=1").json() == project


# RpcSpec.hs: it "can filter proc results"
def test_rpc_spec__can_filter_proc_results(client: httpx.Client) -> None:
    want = [{"id": 2}, {"id": 3}, {"id": 4}]
    ok_json(client.post("/rpc/getallprojects?id=gt.1&id=lt.5&select=id", json={}), want)
    ok_json(client.get("/rpc/getallprojects?id=gt.1&id=lt.5&select=id"), want)


# RpcSpec.hs: it "can limit proc results"
def test_rpc_spec__can_limit_proc_results(client: httpx.Client) -> None:
    query = "/rpc/getallprojects?id=gt.1&id=lt.5&select=id&limit=2&offset=1"
    for r in (client.post(query, json={}), client.get(query)):
        assert (r.status_code, r.json()) == (200, [{"id": 3}, {"id": 4}])
        assert r.headers["content-range"] == "1-2/*"


# RpcSpec.hs: it "select works on the first level"
def test_rpc_spec__select_works_on_the_first_level(client: httpx.Client) -> None:
    want = [{"id": 1, "name": "Windows 7"}]
    assert client.post("/rpc/getproject?select=id,name", json={"id": 1}).json() == want
    assert client.get("/rpc/getproject?id=1&select=id,name").json() == want


# RpcSpec.hs: context "foreign entities embedding"
#   it "cannot embed if the related table is not in the exposed schema"
def test_rpc_spec__cannot_embed_if_the_related_table_is_not_in_the_exposed_schema(
    client: httpx.Client,
) -> None:
    assert client.post("/rpc/single_article?select=*,article_stars(*)",
                       json={"id": 1}).status_code == 400
    assert client.get("/rpc/single_article?id=1&select=*,article_stars(*)").status_code == 400


# RpcSpec.hs: context "a proc that returns an empty rowset" / it "returns empty json array"
def test_rpc_spec__returns_empty_json_array(client: httpx.Client) -> None:
    ok_json(client.post("/rpc/test_empty_rowset", json={}), [])
    ok_json(client.get("/rpc/test_empty_rowset"), [])


# --- proc return types --------------------------------------------------------------------

# RpcSpec.hs: context "proc return types" / "returns text" / it "returns proper json"
def test_rpc_spec__returns_text_as_proper_json(client: httpx.Client) -> None:
    ok_json(client.post("/rpc/sayhello", json={"name": "world"}), "Hello, world")


# RpcSpec.hs: "returns text" / it "can handle unicode"
def test_rpc_spec__returns_text_can_handle_unicode(client: httpx.Client) -> None:
    ok_json(client.post("/rpc/sayhello", json={"name": "￥"}), "Hello, ￥")


# RpcSpec.hs: it "returns array"
def test_rpc_spec__returns_array(client: httpx.Client) -> None:
    ok_json(client.post("/rpc/ret_array", json={}), [1, 2, 3])


# RpcSpec.hs: it "returns setof integers"
def test_rpc_spec__returns_setof_integers(client: httpx.Client) -> None:
    assert client.post("/rpc/ret_setof_integers", json={}).json() == [1, 2, 3]


# RpcSpec.hs: it "returns enum value"
def test_rpc_spec__returns_enum_value(client: httpx.Client) -> None:
    ok_json(client.post("/rpc/ret_enum", json={"val": "foo"}), "foo")


# RpcSpec.hs: it "returns domain value"
def test_rpc_spec__returns_domain_value(client: httpx.Client) -> None:
    ok_json(client.post("/rpc/ret_domain", json={"val": "8"}), 8)


# RpcSpec.hs: it "returns range"
def test_rpc_spec__returns_range(client: httpx.Client) -> None:
    ok_json(client.post("/rpc/ret_range", json={"low": 10, "up": 20}), "[10,20)")


# RpcSpec.hs: it "returns row of scalars"
def test_rpc_spec__returns_row_of_scalars(client: httpx.Client) -> None:
    ok_json(client.post("/rpc/ret_scalars", json={}),
            [{"a": "scalars", "b": "foo", "c": 1, "d": "[10,20)"}])


# RpcSpec.hs: it "returns composite type in exposed schema"
def test_rpc_spec__returns_composite_type_in_exposed_schema(client: httpx.Client) -> None:
    assert client.post("/rpc/ret_point_2d", json={}).json() == {"x": 10, "y": 5}


# RpcSpec.hs: it "cannot return composite type in hidden schema"
def test_rpc_spec__cannot_return_composite_type_in_hidden_schema(client: httpx.Client) -> None:
    assert client.post("/rpc/ret_point_3d", json={}).status_code == 401


# RpcSpec.hs: it "returns domain of composite type"
def test_rpc_spec__returns_domain_of_composite_type(client: httpx.Client) -> None:
    assert client.post("/rpc/ret_composite_domain", json={}).json() == {"x": 10, "y": 5}


# RpcSpec.hs: it "returns single row from table"
def test_rpc_spec__returns_single_row_from_table(client: httpx.Client) -> None:
    assert client.post("/rpc/single_article?select=id", json={"id": 2}).json() == {"id": 2}


# RpcSpec.hs: it "returns 204, no Content-Type header and no content for void"
def test_rpc_spec__returns_204_no_content_type_and_no_content_for_void(
    client: httpx.Client,
) -> None:
    r = client.post("/rpc/ret_void", json={})
    assert (r.status_code, r.content) == (204, b"")
    assert "content-type" not in r.headers and "content-length" not in r.headers


# RpcSpec.hs: it "returns null for an integer with null value"
def test_rpc_spec__returns_null_for_an_integer_with_null_value(client: httpx.Client) -> None:
    r = client.post("/rpc/ret_null", json={})
    assert (r.status_code, r.json()) == (200, None)


# RpcSpec.hs: it "returns a record type"
def test_rpc_spec__returns_a_record_type(client: httpx.Client) -> None:
    project = {"id": 1, "name": "Windows 7", "client_id": 1}
    assert client.post("/rpc/returns_record", content=b"").json() == project
    assert client.post("/rpc/returns_record_params",
                       json={"id": 1, "name": "Windows%"}).json() == project


# RpcSpec.hs: it "returns a setof record type"
def test_rpc_spec__returns_a_setof_record_type(client: httpx.Client) -> None:
    projects = [{"id": 1, "name": "Windows 7", "client_id": 1},
                {"id": 2, "name": "Windows 10", "client_id": 1}]
    assert client.post("/rpc/returns_setof_record", content=b"").json() == projects
    assert client.post("/rpc/returns_setof_record_params",
                       json={"id": 1, "name": "Windows%"}).json() == projects


# RpcSpec.hs: context "different types when overloaded" / it "returns composite type"
def test_rpc_spec__different_types_when_overloaded_returns_composite_type(
    client: httpx.Client,
) -> None:
    assert client.post("/rpc/ret_point_overloaded", json={"x": 1, "y": 2}).json() == {
        "x": 1, "y": 2}


# --- proc argument types ------------------------------------------------------------------

VARIED = {"double": 3.1, "varchar": "hello", "boolean": True, "date": "2019-01-01",
          "money": "$0.00", "enum": "foo", "arr": ["a", "b", "c"], "integer": 43}
VARIED_QUERY = ("double=3.1&varchar=hello&boolean=true&date=20190101&money=0&enum=foo"
                "&arr=%7Ba,b,c%7D&integer=43")


# RpcSpec.hs: context "proc argument types" / it "accepts a variety of arguments (Postgres >= 10)"
def test_rpc_spec__accepts_a_variety_of_arguments(client: httpx.Client) -> None:
    r = client.post("/rpc/varied_arguments", json={
        "double": 3.1, "varchar": "hello", "boolean": True, "date": "20190101", "money": 0,
        "enum": "foo", "arr": ["a", "b", "c"], "integer": 43,
        "json": {"some key": "some value"}, "jsonb": {"another key": [1, 2, "3"]}})
    ok_json(r, {**VARIED, "json": {"some key": "some value"},
                "jsonb": {"another key": [1, 2, "3"]}})


# RpcSpec.hs: it "accepts a variety of arguments with GET"
def test_rpc_spec__accepts_a_variety_of_arguments_with_get(client: httpx.Client) -> None:
    ok_json(client.get(f"/rpc/varied_arguments?{VARIED_QUERY}"), {**VARIED, "json": {},
                                                                  "jsonb": {}})


# RpcSpec.hs: it "accepts a variety of arguments from an html form"
def test_rpc_spec__accepts_a_variety_of_arguments_from_an_html_form(
    client: httpx.Client,
) -> None:
    r = client.post("/rpc/varied_arguments", content=VARIED_QUERY.encode(), headers=FORM)
    ok_json(r, {**VARIED, "json": {}, "jsonb": {}})


# RpcSpec.hs: it "parses embedded JSON arguments as JSON"
def test_rpc_spec__parses_embedded_json_arguments_as_json(client: httpx.Client) -> None:
    ok_json(client.post("/rpc/json_argument", json={"arg": {"key": 3}}), "object")


# RpcSpec.hs: it "parses quoted JSON arguments as JSON string (from Postgres 10.9, 11.4)"
def test_rpc_spec__parses_quoted_json_arguments_as_json_string(client: httpx.Client) -> None:
    ok_json(client.post("/rpc/json_argument", json={"arg": '{ "key": 3 }'}), "string")


# --- improper input -------------------------------------------------------------------------

def is_error_format(r: httpx.Response) -> bool:
    return set(r.json()) == {"code", "details", "hint", "message"}


# RpcSpec.hs: context "improper input" / it "rejects unknown content type even if payload is good"
def test_rpc_spec__rejects_unknown_content_type_even_if_payload_is_good(
    client: httpx.Client,
) -> None:
    mp3 = {"Accept": "audio/mpeg3"}
    assert client.post("/rpc/sayhello", json={"name": "world"}, headers=mp3).status_code == 406
    assert client.get("/rpc/sayhello?name=world", headers=mp3).status_code == 406


# RpcSpec.hs: it "rejects malformed json payload"
def test_rpc_spec__rejects_malformed_json_payload(client: httpx.Client) -> None:
    r = client.post("/rpc/sayhello", content=b"sdfsdf", headers={"Accept": "application/json"})
    assert r.status_code == 400 and is_error_format(r)


# RpcSpec.hs: it "treats simple plpgsql raise as invalid input"
def test_rpc_spec__treats_simple_plpgsql_raise_as_invalid_input(client: httpx.Client) -> None:
    r = client.post("/rpc/problem", content=b"{}")
    assert r.status_code == 400 and is_error_format(r)


# RpcSpec.hs: it "treats plpgsql assert as internal server error"
def test_rpc_spec__treats_plpgsql_assert_as_internal_server_error(client: httpx.Client) -> None:
    r = client.post("/rpc/assert", content=b"{}")
    assert r.status_code == 500 and is_error_format(r)


# RpcSpec.hs: context "unsupported method" / it "DELETE fails"
def test_rpc_spec__delete_fails(client: httpx.Client) -> None:
    r = client.delete("/rpc/sayhello")
    assert r.status_code == 405
    assert r.json() == {"message": "Cannot use the DELETE method on RPC", "code": "PGRST101",
                        "details": None, "hint": None}
    assert (r.headers["content-length"], r.headers["content-type"]) == ("94", JSON)


# RpcSpec.hs: context "unsupported method" / it "PATCH fails"
def test_rpc_spec__patch_fails(client: httpx.Client) -> None:
    assert client.patch("/rpc/sayhello").status_code == 405


# RpcSpec.hs: it "executes the proc exactly once per request"
def test_rpc_spec__executes_the_proc_exactly_once_per_request(client: httpx.Client) -> None:
    r = client.post("/rpc/reset_sequence", json={"name": "test.callcounter_count", "value": 1},
                    headers={"Prefer": "tx=commit"})
    assert (r.status_code, r.content) == (204, b"")
    assert "content-type" not in r.headers and "content-length" not in r.headers
    assert client.post("/rpc/callcounter", json={}).json() == 1
    assert client.post("/rpc/callcounter", json={}).json() == 2


# RpcSpec.hs: context "a proc that receives no parameters"
#   it "interprets empty string as empty json object on a post request"
def test_rpc_spec__interprets_empty_string_as_empty_json_object_on_a_post_request(
    client: httpx.Client,
) -> None:
    ok_json(client.post("/rpc/noparamsproc", content=b""),
            "Return value of no parameters procedure.")


# RpcSpec.hs: it "interprets empty string as a function with no args on a get request"
def test_rpc_spec__interprets_empty_string_as_a_function_with_no_args_on_a_get_request(
    client: httpx.Client,
) -> None:
    ok_json(client.get("/rpc/noparamsproc"), "Return value of no parameters procedure.")


# RpcSpec.hs: it "returns proper output when having the same return col name as the proc name"
def test_rpc_spec__same_return_column_name_as_the_proc_name(client: httpx.Client) -> None:
    ok_json(client.post("/rpc/test", json={}), [{"test": "hello", "value": 1}])
    ok_json(client.get("/rpc/test"), [{"test": "hello", "value": 1}])


# --- OUT/INOUT, TABLE, VARIADIC -----------------------------------------------------------

# RpcSpec.hs: context "procs with OUT/INOUT params"
#   it "returns an object result when there is a single OUT param"
def test_rpc_spec__returns_an_object_result_when_there_is_a_single_out_param(
    client: httpx.Client,
) -> None:
    assert client.get("/rpc/single_out_param?num=5").json() == {"num_plus_one": 6}
    assert client.get("/rpc/single_json_out_param?a=1&b=two").json() == {
        "my_json": {"a": 1, "b": "two"}}


# RpcSpec.hs: it "returns an object result when there is a single INOUT param"
def test_rpc_spec__returns_an_object_result_when_there_is_a_single_inout_param(
    client: httpx.Client,
) -> None:
    assert client.get("/rpc/single_inout_param?num=2").json() == {"num": 3}


# RpcSpec.hs: it "returns an object result when there are many OUT params"
def test_rpc_spec__returns_an_object_result_when_there_are_many_out_params(
    client: httpx.Client,
) -> None:
    assert client.get("/rpc/many_out_params").json() == {
        "my_json": {"a": 1, "b": "two"}, "num": 3, "str": "four"}


# RpcSpec.hs: it "returns an object result when there are many INOUT params"
def test_rpc_spec__returns_an_object_result_when_there_are_many_inout_params(
    client: httpx.Client,
) -> None:
    assert client.get("/rpc/many_inout_params?num=1&str=two&b=false").json() == {
        "num": 1, "str": "two", "b": False}


# RpcSpec.hs: context "procs with TABLE return"
#   it "returns an object result when there is a single-column TABLE return type"
def test_rpc_spec__returns_an_object_result_for_a_single_column_table_return_type(
    client: httpx.Client,
) -> None:
    assert client.get("/rpc/single_column_table_return").json() == [{"a": "A"}]


def test_rpc_spec__single_column_table_return_type_filters_on_its_column(
    client: httpx.Client,
) -> None:
    # not a spec case: issue #18's "?a=eq.A" on the single-column TABLE above
    assert client.get("/rpc/single_column_table_return?a=eq.A").json() == [{"a": "A"}]
    assert client.get("/rpc/single_column_table_return?a=eq.B").json() == []


# RpcSpec.hs: it "returns an object result when there is a multi-column TABLE return type"
def test_rpc_spec__returns_an_object_result_for_a_multi_column_table_return_type(
    client: httpx.Client,
) -> None:
    assert client.get("/rpc/multi_column_table_return").json() == [{"a": "A", "b": "B"}]


# RpcSpec.hs: context "procs with VARIADIC params" / it "works with POST (Postgres >= 10)"
def test_rpc_spec__variadic_works_with_post(client: httpx.Client) -> None:
    r = client.post("/rpc/variadic_param", json={"v": ["hi", "hello", "there"]})
    assert r.json() == ["hi", "hello", "there"]


# RpcSpec.hs: context "works with GET and repeated params" / it "n=0 (through DEFAULT)",
#   it "n=1", it "n>1"
@pytest.mark.parametrize(("query", "want"), [("", []), ("?v=hi", ["hi"]),
                                             ("?v=hi&v=there", ["hi", "there"])],
                         ids=["n=0", "n=1", "n>1"])
def test_rpc_spec__variadic_works_with_get_and_repeated_params(
    client: httpx.Client, query: str, want: list[str],
) -> None:
    assert client.get(f"/rpc/variadic_param{query}").json() == want


# RpcSpec.hs: context "works with POST and repeated params from html form"
#   it "n=0 (through DEFAULT)", it "n=1", it "n>1"
@pytest.mark.parametrize(("form", "want"), [("", []), ("v=hi", ["hi"]),
                                            ("v=hi&v=there", ["hi", "there"])],
                         ids=["n=0", "n=1", "n>1"])
def test_rpc_spec__variadic_works_with_post_and_repeated_params_from_html_form(
    client: httpx.Client, form: str, want: list[str],
) -> None:
    assert client.post("/rpc/variadic_param", content=form.encode(), headers=FORM).json() == want


# RpcSpec.hs: it "returns last value for repeated params without VARIADIC"
def test_rpc_spec__returns_last_value_for_repeated_params_without_variadic(
    client: httpx.Client,
) -> None:
    assert client.get("/rpc/sayhello?name=ignored&name=world").json() == "Hello, world"


# RpcSpec.hs: it "returns last value for repeated non-variadic params in function with other
#   VARIADIC arguments"
def test_rpc_spec__last_value_for_repeated_non_variadic_params_beside_variadic_ones(
    client: httpx.Client,
) -> None:
    r = client.get("/rpc/sayhello_variadic?name=ignored&name=world&v=unused")
    assert r.json() == "Hello, world"


# RpcSpec.hs: it "can handle procs with args that have a DEFAULT value"
def test_rpc_spec__can_handle_procs_with_args_that_have_a_default_value(
    client: httpx.Client,
) -> None:
    assert client.get("/rpc/many_inout_params?num=1&str=two").json() == {
        "num": 1, "str": "two", "b": True}
    assert client.get("/rpc/three_defaults?b=4").json() == 8


# RpcSpec.hs: it "can map a RAISE error code and message to a http status"
def test_rpc_spec__can_map_a_raise_error_code_and_message_to_a_http_status(
    client: httpx.Client,
) -> None:
    r = client.get("/rpc/raise_pt402")
    assert r.status_code == 402
    assert r.json() == {"hint": "Upgrade your plan", "details": "Quota exceeded",
                        "code": "PT402", "message": "Payment Required"}
    assert (r.headers["content-length"], r.headers["content-type"]) == ("99", JSON)


# RpcSpec.hs: it "defaults to status 500 if RAISE code is PT not followed by a number"
def test_rpc_spec__defaults_to_status_500_if_raise_code_is_pt_not_followed_by_a_number(
    client: httpx.Client,
) -> None:
    r = client.get("/rpc/raise_bad_pt")
    assert r.status_code == 500
    assert r.json() == {"hint": None, "details": None, "code": "PT40A", "message": "Wrong"}
    assert r.headers["content-length"] == "61"


# --- overloaded functions -------------------------------------------------------------------

# RpcSpec.hs: context "should work with an overloaded function" / it "overloaded()",
#   it "overloaded(int, int)", it "overloaded(text, text, text)"
def test_rpc_spec__should_work_with_an_overloaded_function(client: httpx.Client) -> None:
    assert client.get("/rpc/overloaded").json() == [1, 2, 3]
    assert client.get("/rpc/overloaded?a=1&b=2").text == "3"
    assert client.get("/rpc/overloaded?a=1&b=2&c=3").json() == "123"


# RpcSpec.hs: it "overloaded_html_form()", it "overloaded_html_form(int, int)",
#   it "overloaded_html_form(text, text, text)"
def test_rpc_spec__should_work_with_an_overloaded_function_from_an_html_form(
    client: httpx.Client,
) -> None:
    def form(body: str) -> httpx.Response:
        return client.post("/rpc/overloaded_html_form", content=body.encode(), headers=FORM)
    assert form("").json() == [1, 2, 3]
    assert form("a=1&b=2").text == "3"
    assert form("a=1&b=2&c=3").json() == "123"


# RpcSpec.hs: context "embedding overloaded functions with the same signature except for the
#   last param with a default value" / it "overloaded_default(int)",
#   it "overloaded_default(int, int)" (the embedding variants are not ported)
def test_rpc_spec__overloaded_default(client: httpx.Client) -> None:
    assert client.post("/rpc/overloaded_default", json={"must_param": 1}).json() == {"val": 1}
    assert client.post("/rpc/overloaded_default", json={"a": 2, "must_param": 4}).json() == {
        "a": 2, "val": 4}


# --- only for POST rpc --------------------------------------------------------------------

# RpcSpec.hs: context "only for POST rpc"
#   it "gives a parse filter error if GET style proc args are specified"
def test_rpc_spec__gives_a_parse_filter_error_if_get_style_proc_args_are_specified(
    client: httpx.Client,
) -> None:
    r = client.post("/rpc/sayhello?name=John", content=b'{name: "John"}')
    assert r.status_code == 400


# RpcSpec.hs: it "ignores json keys not included in ?columns"
def test_rpc_spec__ignores_json_keys_not_included_in_columns(client: httpx.Client) -> None:
    r = client.post("/rpc/sayhello?columns=name",
                    json={"name": "John", "smth": "here", "other": "stuff", "fake_id": 13})
    ok_json(r, "Hello, John")


# RpcSpec.hs: it "only takes the first object in case of array of objects payload"
def test_rpc_spec__only_takes_the_first_object_of_an_array_payload(
    client: httpx.Client,
) -> None:
    r = client.post("/rpc/add_them", json=[{"a": 1, "b": 2}, {"a": 4, "b": 6},
                                           {"a": 100, "b": 200}])
    assert (r.text, r.headers["content-type"]) == ("3", JSON)


# --- HTTP request env vars ------------------------------------------------------------------

def guc(client: httpx.Client, body: dict[str, str], **headers: str) -> httpx.Response:
    return client.post("/rpc/get_guc_value", json=body, headers=headers)


# RpcSpec.hs: context "HTTP request env vars" / it "custom header is set"
def test_rpc_spec__custom_header_is_set(client: httpx.Client) -> None:
    r = guc(client, {"prefix": "request.headers", "name": "custom-header"},
            **{"Custom-Header": "test"})
    ok_json(r, "test")


# RpcSpec.hs: it "standard header is set"
def test_rpc_spec__standard_header_is_set(client: httpx.Client) -> None:
    r = guc(client, {"prefix": "request.headers", "name": "origin"},
            Origin="http://example.com")
    ok_json(r, "http://example.com")


# RpcSpec.hs: it "current role is available as GUC claim"
def test_rpc_spec__current_role_is_available_as_guc_claim(client: httpx.Client) -> None:
    ok_json(guc(client, {"prefix": "request.jwt.claims", "name": "role"}), "web_anon")


# RpcSpec.hs: it "single cookie ends up as claims"
def test_rpc_spec__single_cookie_ends_up_as_claims(client: httpx.Client) -> None:
    r = guc(client, {"prefix": "request.cookies", "name": "acookie"},
            Cookie="acookie=cookievalue")
    assert r.json() == "cookievalue"


# RpcSpec.hs: it "multiple cookies end up as claims"
def test_rpc_spec__multiple_cookies_end_up_as_claims(client: httpx.Client) -> None:
    r = guc(client, {"prefix": "request.cookies", "name": "secondcookie"},
            Cookie="acookie=cookievalue;secondcookie=anothervalue")
    assert r.json() == "anothervalue"


# RpcSpec.hs: it "gets the Authorization value"
def test_rpc_spec__gets_the_authorization_value(
    client: httpx.Client, spec_server: ApiServer,
) -> None:
    bearer = f"Bearer {spec_server.writer_token}"
    r = guc(client, {"prefix": "request.headers", "name": "authorization"},
            Authorization=bearer)
    assert (r.status_code, r.json()) == (200, bearer)


# RpcSpec.hs: it "gets the http method"
def test_rpc_spec__gets_the_http_method(client: httpx.Client) -> None:
    assert guc(client, {"name": "request.method"}).json() == "POST"


# RpcSpec.hs: it "gets the http path"
def test_rpc_spec__gets_the_http_path(client: httpx.Client) -> None:
    assert guc(client, {"name": "request.path"}).json() == "/rpc/get_guc_value"


# --- only for GET rpc ---------------------------------------------------------------------

# RpcSpec.hs: context "only for GET rpc" / it "should fail on mutating procs"
def test_rpc_spec__should_fail_on_mutating_procs(client: httpx.Client) -> None:
    assert client.get("/rpc/callcounter").status_code == 405
    assert client.get("/rpc/setprojects?id_l=1&id_h=5&name=FreeBSD").status_code == 405


# RpcSpec.hs: it "should filter a proc that has arg name = filter name"
def test_rpc_spec__should_filter_a_proc_that_has_arg_name_equal_to_filter_name(
    client: httpx.Client,
) -> None:
    ok_json(client.get("/rpc/get_projects_below?id=5&id=gt.2&select=id"),
            [{"id": 3}, {"id": 4}])


# RpcSpec.hs: it "should work with filters that have the not operator"
def test_rpc_spec__should_work_with_filters_that_have_the_not_operator(
    client: httpx.Client,
) -> None:
    ok_json(client.get("/rpc/get_projects_below?id=5&id=not.gt.2&select=id"),
            [{"id": 1}, {"id": 2}])
    ok_json(client.get("/rpc/get_projects_below?id=5&id=not.in.(1,3)&select=id"),
            [{"id": 2}, {"id": 4}])


# RpcSpec.hs: it "should work with an argument of custom type in public schema"
def test_rpc_spec__should_work_with_an_argument_of_custom_type_in_public_schema(
    client: httpx.Client,
) -> None:
    ok_json(client.get("/rpc/test_arg?my_arg=something"), "foobar")


# --- GUC headers on function calls --------------------------------------------------------

# RpcSpec.hs: context "GUC headers on function calls" / it "succeeds setting the headers"
def test_rpc_spec__succeeds_setting_the_headers(client: httpx.Client) -> None:
    calls = [(client.get("/rpc/get_projects_and_guc_headers?id=eq.2&select=id"), [{"id": 2}]),
             (client.get("/rpc/get_int_and_guc_headers?num=1"), 1),
             (client.post("/rpc/get_int_and_guc_headers", json={"num": 1}), 1)]
    for r, body in calls:
        ok_json(r, body)
        assert r.headers["x-test"] == "key1=val1; someValue; key2=val2"
        assert r.headers["x-test-2"] == "key1=val1"


# RpcSpec.hs: it "fails when setting headers with wrong json structure"
def test_rpc_spec__fails_when_setting_headers_with_wrong_json_structure(
    client: httpx.Client,
) -> None:
    want = {"message": "response.headers guc must be a JSON array composed of objects with a "
            "single key and a string value", "code": "PGRST111", "details": None, "hint": None}
    for r in (client.get("/rpc/bad_guc_headers_1"), client.get("/rpc/bad_guc_headers_2"),
              client.get("/rpc/bad_guc_headers_3"), client.post("/rpc/bad_guc_headers_1",
                                                                json={})):
        ok_json(r, want, 500)
        assert r.headers["content-length"] == "157"


# RpcSpec.hs: it "can set the same http header twice"
def test_rpc_spec__can_set_the_same_http_header_twice(client: httpx.Client) -> None:
    r = client.get("/rpc/set_cookie_twice")
    assert r.status_code == 204
    assert "content-type" not in r.headers and "content-length" not in r.headers
    assert r.headers.get_list("set-cookie") == [
        "sessionid=38afes7a8; HttpOnly; Path=/",
        "id=a3fWa; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Secure; HttpOnly"]


# RpcSpec.hs: context "GUC status override" / it "can override the status on RPC"
def test_rpc_spec__can_override_the_status_on_rpc(client: httpx.Client) -> None:
    ok_json(client.get("/rpc/send_body_status_403"), {"message": "invalid user or password"},
            403)


# RpcSpec.hs: it "fails when setting invalid status guc"
def test_rpc_spec__fails_when_setting_invalid_status_guc(client: httpx.Client) -> None:
    r = client.get("/rpc/send_bad_status")
    ok_json(r, {"message": "response.status guc must be a valid status code",
                "code": "PGRST112", "details": None, "hint": None}, 500)
    assert r.headers["content-length"] == "106"


# --- single unnamed param -----------------------------------------------------------------

# RpcSpec.hs: context "single unnamed param"
#   it "can insert json directly with unnamed parameter"
def test_rpc_spec__can_insert_json_directly_with_unnamed_parameter(client: httpx.Client) -> None:
    body = {"A": 1, "B": 2, "C": 3}
    assert client.post("/rpc/unnamed_json_param", json=body).json() == body


# RpcSpec.hs: it "rejects json body when single param has a name"
def test_rpc_spec__rejects_json_body_when_single_param_has_a_name(client: httpx.Client) -> None:
    no_rpc(client.post("/rpc/named_json_param", json={"A": 1, "B": 2, "C": 3}), hint=None,
           message="Could not find the function test.named_json_param(A, B, C) in the schema "
           "cache",
           details="Searched for the function test.named_json_param with parameters A, B, C or "
           "with a single unnamed json/jsonb parameter, but no matches were found in the "
           "schema cache.")


# RpcSpec.hs: it "can insert text directly"
def test_rpc_spec__can_insert_text_directly(client: httpx.Client) -> None:
    r = client.post("/rpc/unnamed_text_param", content=b"unnamed text arg",
                    headers={"Content-Type": "text/plain", "Accept": "text/plain"})
    assert (r.status_code, r.text) == (200, "unnamed text arg")
    assert r.headers["content-type"] == "text/plain; charset=utf-8"


# RpcSpec.hs: it "can insert xml directly"
def test_rpc_spec__can_insert_xml_directly(client: httpx.Client) -> None:
    note = b"<note><from>John</from><to>Jane</to><message>Remember me</message></note>"
    r = client.post("/rpc/unnamed_xml_param", content=note,
                    headers={"Content-Type": "text/xml", "Accept": "text/xml"})
    assert (r.status_code, r.content) == (200, note)


# RpcSpec.hs: it "can insert bytea directly"
def test_rpc_spec__can_insert_bytea_directly(client: httpx.Client) -> None:
    image = bytes(range(256)) * 4  # every byte value, as an image would have
    r = client.post("/rpc/unnamed_bytea_param", content=image, headers={
        "Content-Type": "application/octet-stream", "Accept": "application/octet-stream"})
    assert (r.status_code, r.content) == (200, image)


# RpcSpec.hs: it "will err when no function with single unnamed json parameter exists and
#   application/json is specified"
def test_rpc_spec__err_when_no_single_unnamed_json_parameter_function_exists(
    client: httpx.Client,
) -> None:
    no_rpc(client.post("/rpc/unnamed_int_param", json={"x": 1, "y": 2}),
           hint="Perhaps you meant to call the function test.unnamed_text_param",
           message="Could not find the function test.unnamed_int_param(x, y) in the schema "
           "cache",
           details="Searched for the function test.unnamed_int_param with parameters x, y or "
           "with a single unnamed json/jsonb parameter, but no matches were found in the "
           "schema cache.")


# RpcSpec.hs: it "will err when no function with single unnamed text parameter exists and
#   text/plain is specified" (and the text/xml and application/octet-stream cases after it)
@pytest.mark.parametrize(("ctype", "kind"), [("text/plain", "text"), ("text/xml", "xml"),
                                             ("application/octet-stream", "bytea")])
def test_rpc_spec__err_when_no_single_unnamed_text_xml_or_bytea_function_exists(
    client: httpx.Client, ctype: str, kind: str,
) -> None:
    r = client.post("/rpc/unnamed_int_param", content=b"a simple text",
                    headers={"Content-Type": ctype})
    no_rpc(r, hint=None,
           message="Could not find the function test.unnamed_int_param in the schema cache",
           details=f"Searched for the function test.unnamed_int_param with a single unnamed "
           f"{kind} parameter, but no matches were found in the schema cache.")
    assert r.headers["content-type"] == JSON


# RpcSpec.hs: it "should be able to resolve when a single unnamed json parameter exists and
#   other overloaded functions are found"
def test_rpc_spec__resolves_other_overloads_beside_a_single_unnamed_json_parameter(
    client: httpx.Client,
) -> None:
    ok_json(client.post("/rpc/overloaded_unnamed_param", json={}), 1)
    ok_json(client.post("/rpc/overloaded_unnamed_param", json={"x": 1, "y": 2}), 3)


# RpcSpec.hs: it "should be able to fallback to the single unnamed parameter function when
#   other overloaded functions are not found"
def test_rpc_spec__falls_back_to_the_single_unnamed_parameter_function(
    client: httpx.Client,
) -> None:
    body = {"A": 1, "B": 2, "C": 3}
    assert client.post("/rpc/overloaded_unnamed_param", json=body).json() == body
    text = client.post("/rpc/overloaded_unnamed_param", content=b"unnamed text arg",
                       headers={"Content-Type": "text/plain", "Accept": "text/plain"})
    assert text.text == "unnamed text arg"
    image = bytes(range(256))
    binary = client.post("/rpc/overloaded_unnamed_param", content=image, headers={
        "Content-Type": "application/octet-stream", "Accept": "application/octet-stream"})
    assert binary.content == image


# RpcSpec.hs: it "should call the function with no parameters and not fallback to the single
#   unnamed parameter function when using GET with Content-Type headers"
def test_rpc_spec__get_with_content_type_calls_the_function_without_parameters(
    client: httpx.Client,
) -> None:
    for ctype in ("text/plain", "application/octet-stream"):
        r = client.get("/rpc/overloaded_unnamed_param", headers={"Content-Type": ctype})
        assert (r.status_code, r.json()) == (200, 1)


# RpcSpec.hs: it "should fail with multiple choices when two fallback functions with single
#   unnamed json and jsonb parameters exist"
def test_rpc_spec__multiple_choices_between_single_unnamed_json_and_jsonb_functions(
    client: httpx.Client,
) -> None:
    r = client.post("/rpc/overloaded_unnamed_json_jsonb_param", json={"A": 1, "B": 2, "C": 3})
    ok_json(r, {"hint": "Try renaming the parameters or the function itself in the database "
                "so function overloading can be resolved",
                "message": "Could not choose the best candidate function between: "
                "test.overloaded_unnamed_json_jsonb_param( => json), "
                "test.overloaded_unnamed_json_jsonb_param( => jsonb)",
                "code": "PGRST203", "details": None}, 300)


# RpcSpec.hs: it "should fail on /rpc/unnamed_xml_param when posting invalid xml"
def test_rpc_spec__should_fail_on_unnamed_xml_param_when_posting_invalid_xml(
    client: httpx.Client,
) -> None:
    r = client.post("/rpc/unnamed_xml_param", content=b"<",
                    headers={"Content-Type": "text/xml", "Accept": "text/xml"})
    ok_json(r, {"hint": None, "message": "invalid XML content", "code": "2200N",
                "details": "line 1: StartTag: invalid element name\n<\n ^"}, 400)
    assert r.headers["content-length"] == "118"


# --- a proc with bit and char parameters ---------------------------------------------------

# RpcSpec.hs: context "a proc with bit and char parameters"
#   it "modifies the param type from character to character varying"
def test_rpc_spec__modifies_the_param_type_from_character_to_character_varying(
    client: httpx.Client,
) -> None:
    ok_json(client.get("/rpc/char_param_select?char_=abcdefg&char_arr={abc,abcdefg}"),
            [{"char_": "abcdefg", "char_arr": ["abc", "abcdefg"]}])
    r = client.post("/rpc/char_param_insert",
                    json={"char_": "abcdefg", "char_arr": "{abc,abcdefg}"})
    ok_json(r, {"code": "22001", "details": None, "hint": None,
                "message": "value too long for type character(5)"}, 400)
    assert r.headers["content-length"] == "92"


# RpcSpec.hs: it "modifies the param type from bit to bit varying"
def test_rpc_spec__modifies_the_param_type_from_bit_to_bit_varying(client: httpx.Client) -> None:
    ok_json(client.get("/rpc/bit_param_select?bit_=101010&bit_arr={101,101010}"),
            [{"bit_": "101010", "bit_arr": ["101", "101010"]}])
    r = client.post("/rpc/bit_param_insert", json={"bit_": "101010", "bit_arr": "{101,101010}"})
    ok_json(r, {"code": "22026", "details": None, "hint": None,
                "message": "bit string length 6 does not match type bit(5)"}, 400)
    assert r.headers["content-length"] == "102"


# --- get message and details from raise sqlstate -------------------------------------------

# RpcSpec.hs: context "get message and details from raise sqlstate"
#   it "gets message and details from raise sqlstate PGRST"
def test_rpc_spec__gets_message_and_details_from_raise_sqlstate_pgrst(
    client: httpx.Client,
) -> None:
    r = client.get("/rpc/raise_sqlstate_test1")
    # the status line's custom reason phrase ("My Custom Status") is not sent: see README
    assert r.status_code == 332 and r.headers["x-header"] == "str"
    assert r.json() == {"code": "123", "message": "ABC", "details": "DEF", "hint": "XYZ"}
    r = client.get("/rpc/raise_sqlstate_test2")
    assert (r.status_code, r.headers["x-header"]) == (332, "str")
    assert r.json() == {"code": "123", "message": "ABC", "details": None, "hint": None}


# RpcSpec.hs: it "get message and details from PGRST raise and checks standard status message"
def test_rpc_spec__pgrst_raise_with_the_standard_status_message(client: httpx.Client) -> None:
    r = client.get("/rpc/raise_sqlstate_test3")
    assert (r.status_code, r.reason_phrase, r.headers["x-header"]) == (404, "Not Found", "str")
    assert r.json() == {"code": "123", "message": "ABC", "details": None, "hint": None}


# RpcSpec.hs: it "get message and details from PGRST raise and checks custom status message"
def test_rpc_spec__pgrst_raise_with_a_custom_status_message(client: httpx.Client) -> None:
    r = client.get("/rpc/raise_sqlstate_test4")
    # the code and body as PostgREST; the reason phrase stays "Not Found" (see README)
    assert (r.status_code, r.headers["x-header"]) == (404, "str")
    assert r.json() == {"code": "123", "message": "ABC", "details": None, "hint": None}


# RpcSpec.hs: it "returns error for invalid JSON in the MESSAGE option of the RAISE statement"
def test_rpc_spec__error_for_invalid_json_in_the_message_option_of_raise(
    client: httpx.Client,
) -> None:
    r = client.get("/rpc/raise_sqlstate_invalid_json_message")
    ok_json(r, {"code": "PGRST121",
                "message": "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error",
                "details": "Invalid JSON value for MESSAGE: 'INVALID'",
                "hint": "MESSAGE must be a JSON object with obligatory keys: 'code', 'message' "
                "and optional keys: 'details', 'hint'."}, 500)
    assert r.headers["content-length"] == "263"


# RpcSpec.hs: it "returns error for invalid JSON in the DETAIL option of the RAISE statement"
def test_rpc_spec__error_for_invalid_json_in_the_detail_option_of_raise(
    client: httpx.Client,
) -> None:
    ok_json(client.get("/rpc/raise_sqlstate_invalid_json_details"), {
        "code": "PGRST121",
        "message": "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error",
        "details": "Invalid JSON value for DETAIL: 'INVALID'",
        "hint": "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and "
        "optional key: 'status_text'."}, 500)


# RpcSpec.hs: it "returns error for missing DETAIL option in the RAISE statement"
def test_rpc_spec__error_for_missing_detail_option_in_the_raise_statement(
    client: httpx.Client,
) -> None:
    ok_json(client.get("/rpc/raise_sqlstate_missing_details"), {
        "code": "PGRST121",
        "message": "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error",
        "details": "DETAIL is missing in the RAISE statement",
        "hint": "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and "
        "optional key: 'status_text'."}, 500)


# --- table valued function with filter -----------------------------------------------------

# RpcSpec.hs: context "test table valued function with filter"
#   it "works with filter on unselected columns"
def test_rpc_spec__works_with_filter_on_unselected_columns(client: httpx.Client) -> None:
    ok_json(client.get("/rpc/getallprojects?select=id,client_id&name=like.OSX"),
            [{"id": 4, "client_id": 2}])


# RpcSpec.hs: it "works with logical filter on unselected columns"
def test_rpc_spec__works_with_logical_filter_on_unselected_columns(client: httpx.Client) -> None:
    ok_json(client.get("/rpc/getallprojects?select=id,client_id&or=(name.like.OSX,name.like.IOS)"),
            [{"id": 3, "client_id": 2}, {"id": 4, "client_id": 2}])


# RpcSpec.hs: it "should not fail when function name is a pg reserved word"
def test_rpc_spec__should_not_fail_when_function_name_is_a_pg_reserved_word(
    client: httpx.Client,
) -> None:
    assert client.get("/rpc/true").status_code == 200


# RpcSpec.hs: it "should fail to fallback to any single unnamed parameter function when using
#   an unsupported Content-Type header" (a CSV body names the arguments a, b)
def test_rpc_spec__no_fallback_to_a_single_unnamed_parameter_for_a_csv_body(
    client: httpx.Client,
) -> None:
    r = client.post("/rpc/overloaded_unnamed_param", content=b"a,b\n1,2\n4,6\n100,200",
                    headers={"Content-Type": "text/csv"})
    no_rpc(r, hint="Perhaps you meant to call the function test.overloaded_unnamed_param(x, y)",
           message="Could not find the function test.overloaded_unnamed_param(a, b) in the "
           "schema cache",
           details="Searched for the function test.overloaded_unnamed_param with parameters "
           "a, b, but no matches were found in the schema cache.")


def test_rpc_spec__a_csv_body_gives_the_arguments_of_its_first_row(client: httpx.Client) -> None:
    # not a spec case: the CSV body the case above sends, to a function that takes a and b
    r = client.post("/rpc/add_them", content=b"a,b\n1,2\n4,6", headers={"Content-Type": "text/csv"})
    assert (r.status_code, r.json()) == (200, 3)
