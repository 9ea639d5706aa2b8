"""GET / (OpenAPI from the schema cache) and /docs."""

from __future__ import annotations

from api.rpc.openapi import type_schema
from tests.api.apiserver import ApiServer


def test_openapi_document(api_server: ApiServer) -> None:
    with api_server.client() as client:
        r = client.get("/")
        assert r.headers["content-type"].startswith("application/openapi+json")
        doc = r.json()
        v2 = client.get("/", headers={"Accept-Profile": "test_api_v2"}).json()
        again = client.get("/")  # served from the per-(cache, profile) encoding
        unknown = client.get("/", headers={"Accept-Profile": "private"})
    assert again.json() == doc
    # as /rpc does: an unknown profile is 406 PGRST106, not the default schema
    assert unknown.status_code == 406
    assert unknown.json()["code"] == "PGRST106"
    assert doc["openapi"].startswith("3.")
    add = doc["paths"]["/rpc/add"]
    assert add["get"]["summary"] == "Adds two numbers"
    assert add["get"]["description"] == "The second one defaults to 10."
    params = {p["name"]: p for p in add["get"]["parameters"]}
    assert params["a"]["required"] is True and params["b"]["required"] is False
    assert params["a"]["schema"] == {"type": "integer", "format": "int32"}
    body = add["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["a"]
    # volatile functions: POST only
    assert set(doc["paths"]["/rpc/write_log"]) == {"post"}
    items = doc["paths"]["/rpc/get_items"]["get"]["responses"]["200"]["content"]
    assert items["application/json"]["schema"]["type"] == "array"
    assert "/rpc/over" not in doc["paths"]  # overloads cannot be one operation
    assert "/rpc/v2_only" in v2["paths"] and "/rpc/v2_only" not in doc["paths"]


def test_docs_page_is_self_contained(api_server: ApiServer) -> None:
    with api_server.client() as client:
        page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "https://" not in page.text and "http://" not in page.text


def test_type_schema() -> None:
    assert type_schema("integer[]") == {"type": "array",
                                        "items": {"type": "integer", "format": "int32"}}
    assert type_schema("numeric(10,2)") == {"type": "number"}
    assert type_schema("timestamp with time zone")["format"] == "date-time"
    assert type_schema("jsonb") == {}
