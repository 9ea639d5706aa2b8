"""Functions with OUT parameters over real HTTP: one OUT or INOUT parameter answers an
object keyed by its name, as PostgREST does (issue 12.6)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.api.apiserver import ApiServer


@pytest.fixture(scope="module")
def client(api_server: ApiServer) -> Iterator[httpx.Client]:
    with api_server.client() as c:
        yield c


def test_single_out_parameter_is_an_object(client: httpx.Client) -> None:
    r = client.get("/rpc/single_out", params={"num": 5})
    assert (r.status_code, r.json()) == (200, {"num_plus_one": 6})
    assert client.post("/rpc/single_out", json={"num": 1}).json() == {"num_plus_one": 2}


def test_single_inout_parameter_is_an_object(client: httpx.Client) -> None:
    assert client.get("/rpc/single_inout", params={"num": 3}).json() == {"num": 6}


def test_single_out_parameter_as_object_and_csv(client: httpx.Client) -> None:
    singular = client.get("/rpc/single_out", params={"num": 5},
                          headers={"Accept": "application/vnd.pgrst.object+json"})
    assert singular.json() == {"num_plus_one": 6}
    csv = client.get("/rpc/single_out", params={"num": 5}, headers={"Accept": "text/csv"})
    assert csv.text == "num_plus_one\n6"


def test_one_column_table_is_an_array_of_objects(client: httpx.Client) -> None:
    r = client.get("/rpc/one_column", params={"n": 3, "x": "gte.2", "order": "x.desc"})
    assert r.json() == [{"x": 3}, {"x": 2}]
