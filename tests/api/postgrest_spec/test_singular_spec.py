"""Port of PostgREST's ``test/spec/Feature/Query/SingularSpec.hs``, context "when calling a
stored proc" (the table cases are not about functions)."""

from __future__ import annotations

import httpx

SINGULAR = {"Accept": "application/vnd.pgrst.object+json"}
JSON = "application/json; charset=utf-8"


def not_one_row(r: httpx.Response, rows: int) -> None:
    assert r.status_code == 406
    assert r.json() == {"details": f"The result contains {rows} rows",
                        "message": "Cannot coerce the result to a single JSON object",
                        "code": "PGRST116", "hint": None}
    assert r.headers["content-type"] == JSON


# SingularSpec.hs: context "when calling a stored proc" / it "fails for zero rows"
def test_singular_spec__fails_for_zero_rows(client: httpx.Client) -> None:
    not_one_row(client.post("/rpc/getproject", json={"id": 9999999}, headers=SINGULAR), 0)


# SingularSpec.hs: it "succeeds for scalar result"
def test_singular_spec__succeeds_for_scalar_result(client: httpx.Client) -> None:
    r = client.post("/rpc/sayhello", json={"name": "world"}, headers=SINGULAR)
    assert r.status_code == 200


# SingularSpec.hs: it "returns a single object for json proc"
def test_singular_spec__returns_a_single_object_for_json_proc(client: httpx.Client) -> None:
    r = client.post("/rpc/getproject", json={"id": 1}, headers=SINGULAR)
    assert r.json() == {"id": 1, "name": "Windows 7", "client_id": 1}
    assert r.headers["content-type"] == "application/vnd.pgrst.object+json; charset=utf-8"


# SingularSpec.hs: it "fails for multiple rows"
def test_singular_spec__fails_for_multiple_rows(client: httpx.Client) -> None:
    not_one_row(client.post("/rpc/getallprojects", content=b"{}", headers=SINGULAR), 5)


# SingularSpec.hs: it "fails for multiple rows with rolled back changes"
def test_singular_spec__fails_for_multiple_rows_with_rolled_back_changes(
    client: httpx.Client,
) -> None:
    before = client.post("/rpc/getproject?select=id,name", json={"id": 1})
    assert before.json() == [{"id": 1, "name": "Windows 7"}]
    r = client.post("/rpc/setprojects", json={"id_l": 1, "id_h": 2, "name": "changed"},
                    headers={"Prefer": "tx=commit", **SINGULAR})
    not_one_row(r, 2)
    after = client.post("/rpc/getproject?select=id,name", json={"id": 1})
    assert after.json() == [{"id": 1, "name": "Windows 7"}]  # the update was rolled back
