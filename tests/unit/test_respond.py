"""api/rpc/respond.py: status and headers around the body PostgreSQL built. Pure."""

from __future__ import annotations

import pytest

from api.config import TxEnd
from api.errors import GucHeadersError, GucStatusError, InvalidRange
from api.rpc.plan import PlanConfig, plan_call
from api.rpc.respond import content_range, guc_headers, guc_status, range_status, respond
from tests.unit.plans import CACHE, request

SCHEMAS = ("api", "v2")


def test_range_status_and_content_range() -> None:
    assert range_status(0, 9, None) == 200
    assert range_status(0, 9, 10) == 200
    assert range_status(0, 4, 10) == 206
    with pytest.raises(InvalidRange):
        range_status(11, 10, 10)
    assert content_range(0, 9, None) == "0-9/*"
    assert content_range(5, 9, 10) == "5-9/10"
    assert content_range(0, -1, 0) == "*/0"


def test_guc_headers_and_status() -> None:
    assert guc_headers(None) == []
    assert guc_headers('[{"X-A": "1"}, {"Cache-Control": "no-store"}]') == [
        ("x-a", "1"), ("cache-control", "no-store")]
    for bad in ("nope", '{"a": "1"}', '[{"a": 1}]', '[{"a": "1", "b": "2"}]'):
        with pytest.raises(GucHeadersError):
            guc_headers(bad)
    assert guc_status(None) is None
    assert guc_status("202") == 202
    for bad in ("abc", "99", "600"):
        with pytest.raises(GucStatusError):
            guc_status(bad)


def test_a_set_with_count_gets_content_range_and_206() -> None:
    req = request("offset=2&limit=2", prefer="count=exact")
    p = plan_call(req, CACHE, PlanConfig())
    response = respond(req, p, rows=2, body=b"[1,2]", total=10, response_headers=None,
                       response_status=None, exposed_schemas=SCHEMAS)
    assert response.status == 206
    headers = dict(response.headers)
    assert headers["content-range"] == "2-3/10"
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["content-profile"] == "api"
    assert headers["preference-applied"] == "count=exact"
    assert headers["content-length"] == "5"


def test_void_is_204_without_length_and_head_has_no_body() -> None:
    req = request(fn="noop")
    p = plan_call(req, CACHE, PlanConfig())
    response = respond(req, p, rows=1, body=None, total=None, response_headers=None,
                       response_status=None, exposed_schemas=("api",))
    assert (response.status, response.body) == (204, b"")
    assert "content-length" not in dict(response.headers)
    head_req = request("a=1", method="HEAD", fn="add")
    head = respond(head_req, plan_call(head_req, CACHE, PlanConfig()), rows=1, body=b"11",
                   total=None, response_headers=None, response_status=None,
                   exposed_schemas=("api",))
    # no Content-Length for the body HEAD does not send, as PostgREST answers HEAD
    assert (head.status, head.body) == (200, b"")
    assert "content-length" not in dict(head.headers)


def test_gucs_override_status_and_headers() -> None:
    req = request("a=1", fn="add")
    response = respond(req, plan_call(req, CACHE, PlanConfig()), rows=1, body=b"11",
                       total=None, response_headers='[{"Content-Type": "text/plain"}]',
                       response_status="201", exposed_schemas=("api",))
    assert response.status == 201
    assert dict(response.headers)["content-type"] == "text/plain"


def test_preference_applied_tx_only_when_it_happened() -> None:
    req = request(prefer="tx=rollback")
    committed = plan_call(req, CACHE, PlanConfig())
    rolled_back = plan_call(req, CACHE, PlanConfig(tx_end=TxEnd.COMMIT_ALLOW_OVERRIDE))
    for p, applied in ((committed, None), (rolled_back, "tx=rollback")):
        response = respond(req, p, rows=0, body=b"[]", total=None, response_headers=None,
                           response_status=None, exposed_schemas=("api",))
        assert dict(response.headers).get("preference-applied") == applied


def test_a_single_value_has_content_range_0_0() -> None:
    req = request("a=1", fn="add", prefer="count=exact")
    response = respond(req, plan_call(req, CACHE, PlanConfig()), rows=1, body=b"11", total=1,
                       response_headers=None, response_status=None, exposed_schemas=("api",))
    assert (response.status, dict(response.headers)["content-range"]) == (200, "0-0/1")


def test_out_of_range_error_carries_content_range_of_the_total() -> None:
    with pytest.raises(InvalidRange) as info:
        range_status(100, 99, 15)
    assert dict(info.value.render().headers)["content-range"] == "*/15"
