"""Port of PostgREST's ``test/spec/Feature/Query/Preferences/MaxAffectedSpec.hs``, context
"test Prefer: max-affected with rpc". A call that exceeds the limit is rolled back, so the
"succeed" cases (which delete every row) run after the "fail" ones have left the rows in
place: each test checks the rows are still there first, or puts them back."""

from __future__ import annotations

import httpx
import pytest

from tests.pgfixtures import DbInfo

STRICT = "handling=strict, max-affected={}"
ALL_ROWS = [{"id": i} for i in range(1, 16)]


@pytest.fixture
def fifteen_rows(spec_db: DbInfo) -> None:
    spec_db.psql("insert into test.deletable_items select generate_series(1, 15) "
                 "on conflict do nothing")


def exceeded(r: httpx.Response) -> None:
    assert (r.status_code, r.json()) == (400, {
        "code": "PGRST124", "details": "The query affects 15 rows", "hint": None,
        "message": "Query result exceeds max-affected preference constraint"})


# MaxAffectedSpec.hs: it "should fail with rpc when deleting rows more than prefered with
#   returns setof"
def test_max_affected_spec__fails_deleting_more_rows_than_preferred_returns_setof(
    client: httpx.Client, fifteen_rows: None, spec_db: DbInfo,
) -> None:
    exceeded(client.post("/rpc/delete_items_returns_setof", content=b"",
                         headers={"Prefer": STRICT.format(10)}))
    assert spec_db.psql("select count(*) from test.deletable_items") == "15"  # rolled back


# MaxAffectedSpec.hs: it "should fail with rpc when deleting rows more than prefered with
#   returns table"
def test_max_affected_spec__fails_deleting_more_rows_than_preferred_returns_table(
    client: httpx.Client, fifteen_rows: None, spec_db: DbInfo,
) -> None:
    exceeded(client.post("/rpc/delete_items_returns_table", content=b"",
                         headers={"Prefer": STRICT.format(10)}))
    assert spec_db.psql("select count(*) from test.deletable_items") == "15"


# MaxAffectedSpec.hs: it "should succeed with rpc deleting rows less than prefered with
#   returns setof", it "... with returns table"
@pytest.mark.parametrize("fn", ["delete_items_returns_setof", "delete_items_returns_table"])
def test_max_affected_spec__succeeds_deleting_fewer_rows_than_preferred(
    client: httpx.Client, fifteen_rows: None, fn: str,
) -> None:
    r = client.post(f"/rpc/{fn}", content=b"", headers={"Prefer": STRICT.format(20)})
    assert (r.status_code, r.json()) == (200, ALL_ROWS)
    assert r.headers["preference-applied"] == "handling=strict, max-affected=20"


# MaxAffectedSpec.hs: it "should fail with rpc when returns void with handling=strict"
def test_max_affected_spec__fails_with_rpc_when_returns_void_with_handling_strict(
    client: httpx.Client,
) -> None:
    r = client.post("/rpc/delete_items_returns_void", content=b"",
                    headers={"Prefer": STRICT.format(20)})
    assert (r.status_code, r.json()) == (400, {
        "code": "PGRST128", "details": None, "hint": None,
        "message": "Function must return SETOF or TABLE when max-affected preference is used "
        "with handling=strict"})


def test_max_affected_spec__ignored_without_handling_strict(client: httpx.Client) -> None:
    # not an RPC case of the spec: as PostgREST, max-affected alone (lenient) is ignored
    r = client.get("/rpc/getitemrange?min=0&max=15", headers={"Prefer": "max-affected=1"})
    assert (r.status_code, len(r.json())) == (200, 15)
