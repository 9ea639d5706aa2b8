"""Port of PostgREST's ``test/spec/Feature/Query/RangeSpec.hs``, the ``GET /rpc/getitemrange``
part (the ``GET /items`` part is about tables, which this API does not serve)."""

from __future__ import annotations

import httpx

COUNT = {"Prefer": "count=exact"}


def not_satisfiable(r: httpx.Response, details: str, total: int) -> None:
    assert r.status_code == 416
    assert r.json() == {"message": "Requested range not satisfiable", "code": "PGRST103",
                        "details": details, "hint": None}
    assert r.headers["content-range"] == f"*/{total}"


# RangeSpec.hs: describe "GET /rpc/getitemrange" / context "without range headers"
#   / context "with response under server size limit" / it "returns whole range with status 200"
def test_range_spec__returns_whole_range_with_status_200(client: httpx.Client) -> None:
    assert client.get("/rpc/getitemrange?min=0&max=15").status_code == 200


# RangeSpec.hs: context "when I don't want the count"
#   it "returns range Content-Range with */* for empty range"
def test_range_spec__content_range_star_star_for_empty_range(client: httpx.Client) -> None:
    r = client.get("/rpc/getitemrange?min=2&max=2")
    assert r.json() == []
    assert (r.headers["content-range"], r.headers["content-length"]) == ("*/*", "2")


# RangeSpec.hs: it "returns range Content-Range with range/*"
def test_range_spec__content_range_with_range_star(client: httpx.Client) -> None:
    r = client.get("/rpc/getitemrange?order=id&min=0&max=15")
    assert r.json() == [{"id": i} for i in range(1, 16)]
    assert r.headers["content-range"] == "0-14/*"


# RangeSpec.hs: context "of invalid range" (without range headers)
#   it "refuses a range with nonzero start when there are no items"
def test_range_spec__refuses_offset_with_nonzero_start_when_there_are_no_items(
    client: httpx.Client,
) -> None:
    r = client.get("/rpc/getitemrange?offset=1&min=2&max=2", headers=COUNT)
    not_satisfiable(r, "An offset of 1 was requested, but there are only 0 rows.", 0)
    assert r.headers["content-length"] == "144"


# RangeSpec.hs: it "refuses a range requesting start past last item" (without range headers)
def test_range_spec__refuses_offset_requesting_start_past_last_item(client: httpx.Client) -> None:
    r = client.get("/rpc/getitemrange?offset=100&min=0&max=15", headers=COUNT)
    not_satisfiable(r, "An offset of 100 was requested, but there are only 15 rows.", 15)


# RangeSpec.hs: context "with range headers" / context "of acceptable range"
#   it "succeeds with partial content"
def test_range_spec__succeeds_with_partial_content(client: httpx.Client) -> None:
    r = client.get("/rpc/getitemrange?min=0&max=15", headers={"Range": "0-1"})
    assert r.status_code == 200
    assert (r.headers["content-range"], r.headers["content-length"]) == ("0-1/*", "22")


# RangeSpec.hs: it "understands open-ended ranges"
def test_range_spec__understands_open_ended_ranges(client: httpx.Client) -> None:
    assert client.get("/rpc/getitemrange?min=0&max=15", headers={"Range": "0-"}).status_code == 200


# RangeSpec.hs: it "returns an empty body when there are no results"
def test_range_spec__returns_an_empty_body_when_there_are_no_results(
    client: httpx.Client,
) -> None:
    r = client.get("/rpc/getitemrange?min=2&max=2", headers={"Range": "0-1"})
    assert (r.status_code, r.text, r.headers["content-range"]) == (200, "[]", "*/*")


# RangeSpec.hs: it "allows one-item requests"
def test_range_spec__allows_one_item_requests(client: httpx.Client) -> None:
    r = client.get("/rpc/getitemrange?min=0&max=15", headers={"Range": "0-0"})
    assert (r.status_code, r.headers["content-range"]) == (200, "0-0/*")


# RangeSpec.hs: it "handles ranges beyond collection length via truncation"
def test_range_spec__handles_ranges_beyond_collection_length_via_truncation(
    client: httpx.Client,
) -> None:
    r = client.get("/rpc/getitemrange?min=0&max=15", headers={"Range": "10-100"})
    assert (r.status_code, r.headers["content-range"]) == (200, "10-14/*")


# RangeSpec.hs: context "of invalid range" (with range headers)
#   it "fails with 416 for offside range"
def test_range_spec__fails_with_416_for_offside_range(client: httpx.Client) -> None:
    r = client.get("/rpc/getitemrange?min=2&max=2", headers={"Range": "1-0"})
    assert r.status_code == 416
    assert r.json() == {"message": "Requested range not satisfiable", "code": "PGRST103",
                        "details": "The lower boundary must be lower than or equal to the "
                        "upper boundary in the Range header.", "hint": None}


# RangeSpec.hs: it "refuses a range with nonzero start when there are no items" (range headers)
def test_range_spec__refuses_range_with_nonzero_start_when_there_are_no_items(
    client: httpx.Client,
) -> None:
    r = client.get("/rpc/getitemrange?min=2&max=2", headers={"Range": "1-2", **COUNT})
    not_satisfiable(r, "An offset of 1 was requested, but there are only 0 rows.", 0)
    assert r.headers["content-length"] == "144"


# RangeSpec.hs: it "refuses a range requesting start past last item" (range headers)
def test_range_spec__refuses_range_requesting_start_past_last_item(client: httpx.Client) -> None:
    r = client.get("/rpc/getitemrange?min=0&max=15", headers={"Range": "100-199", **COUNT})
    not_satisfiable(r, "An offset of 100 was requested, but there are only 15 rows.", 15)
