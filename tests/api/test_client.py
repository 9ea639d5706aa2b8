"""api/client.py: the writer client of the command line tools, error wording, retry rule."""

from __future__ import annotations

import httpx
import pytest

from api.client import api_client, error_message, retryable
from api.config import ConfigError, Settings


def test_the_client_sends_the_token_to_the_configured_api() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    settings = Settings(api_url="http://api.test/base/", token="writer-jwt")
    with api_client(settings, "metrics-rpc-test", transport=httpx.MockTransport(answer)) as http:
        http.post("/rpc/f")
    with api_client(settings, "metrics-rpc-test", "http://other.test/",
                    transport=httpx.MockTransport(answer)) as http:
        http.post("/rpc/f")
    assert [str(r.url) for r in seen] == ["http://api.test/base/rpc/f", "http://other.test/rpc/f"]
    assert seen[0].headers["authorization"] == "Bearer writer-jwt"
    assert seen[0].headers["user-agent"] == "metrics-rpc-test"


def test_no_token_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="METRICS_RPC_TOKEN: metrics-rpc-test needs"):
        api_client(Settings(), "metrics-rpc-test")


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(400, json={"code": "22023", "message": "bad", "details": "row 1",
                                   "hint": None}), "22023 bad row 1"),
        (httpx.Response(503, json={"code": "PGRST002", "message": "no cache"}),
         "PGRST002 no cache"),
        (httpx.Response(500, json=["odd"]), "['odd']"),
        (httpx.Response(502, text="  bad gateway\n"), "bad gateway"),
        (httpx.Response(403), "Forbidden"),
        (httpx.Response(400, text="x" * 500), "x" * 200),
    ],
)
def test_error_message(response: httpx.Response, message: str) -> None:
    assert error_message(response) == message


def test_retryable_statuses() -> None:
    assert [s for s in (400, 401, 403, 404, 408, 413, 429, 500, 502, 503, 504) if retryable(s)] == [
        408, 429, 500, 502, 503, 504]
