"""Port of PostgREST's ``test/spec/Feature/Query/ServerTimingSpec.hs``: its RPC cases, with
``PGRST_SERVER_TIMING_ENABLED=true``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.api.apiserver import ApiServer, running_api_server
from tests.api.postgrest_spec.conftest import BASE_SETTINGS


@pytest.fixture(scope="module")
def timed(spec_server: ApiServer) -> Iterator[httpx.Client]:
    assert spec_server.db is not None
    with running_api_server(spec_server.db, **BASE_SETTINGS,
                            server_timing_enabled=True) as server, server.client() as client:
        yield client


def has_timings(r: httpx.Response, *stages: str) -> bool:
    """``matchServerTimingHasTiming``: each stage is listed with a duration."""
    listed = {}
    for part in r.headers["server-timing"].split(","):
        name, _, dur = part.strip().partition(";dur=")
        listed[name] = float(dur)
    return all(stage in listed for stage in stages)


# ServerTimingSpec.hs: context "responds with Server-Timing header" / it "works with rpc call"
def test_server_timing_spec__works_with_rpc_call(timed: httpx.Client) -> None:
    r = timed.post("/rpc/ret_point_overloaded", json={"x": 1, "y": 2})
    assert (r.status_code, r.json()) == (200, {"x": 1, "y": 2})
    assert has_timings(r, "jwt", "parse", "plan", "transaction", "response")


# ServerTimingSpec.hs: it "works with OPTIONS method" (the /rpc/getallprojects request)
def test_server_timing_spec__works_with_options_method(timed: httpx.Client) -> None:
    r = timed.options("/rpc/getallprojects")
    assert r.status_code == 200
    assert has_timings(r, "jwt", "parse", "response")


