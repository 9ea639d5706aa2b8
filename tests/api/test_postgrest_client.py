"""A real PostgREST client (postgrest-py) works unchanged against us, and sees what psql sees."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from postgrest import SyncPostgrestClient

from tests.api.apiserver import ApiServer


@pytest.fixture(scope="module")
def client(api_server: ApiServer) -> Iterator[SyncPostgrestClient]:
    with SyncPostgrestClient(api_server.base_url, schema="test_api") as c:
        yield c


def psql_rows(api_server: ApiServer, sql: str) -> list[dict[str, object]]:
    out = api_server.db.psql(f"select coalesce(json_agg(t), '[]') from ({sql}) t")
    rows: list[dict[str, object]] = json.loads(out)
    return rows


def test_rpc_with_filters_order_limit_matches_psql(client: SyncPostgrestClient,
                                                   api_server: ApiServer) -> None:
    got = (client.rpc("get_items", {"min_id": "2"}).gt("id", "2").order("id", desc=True)
           .limit(2).execute())
    expected = psql_rows(api_server, "select * from test_api.get_items(min_id => 2) "
                                     "where id > 2 order by id desc limit 2")
    assert got.data == expected
    assert [row["id"] for row in got.data] == [5, 4]


def test_rpc_get_and_scalar(client: SyncPostgrestClient) -> None:
    got = client.rpc("get_items", {"min_id": "4"}, get=True).execute()
    assert [row["id"] for row in got.data] == [4, 5]
    assert client.rpc("add", {"a": 2, "b": 5}).execute().data == 7


def test_rpc_count_and_single(client: SyncPostgrestClient) -> None:
    got = client.rpc("get_items", {}, count="exact").in_("id", ["1", "2", "3"]).execute()
    assert got.count == 3 and len(got.data) == 3
    one = client.rpc("get_items", {}).eq("id", "3").single().execute()
    assert one.data["name"] == "gamma"


def test_schema_switch(api_server: ApiServer) -> None:
    with SyncPostgrestClient(api_server.base_url, schema="test_api_v2") as v2:
        assert v2.rpc("add", {"a": 2, "b": 5}).execute().data == 10
