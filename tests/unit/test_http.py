"""api/http.py: the request layer shared by /rpc and remote write."""

from __future__ import annotations

import asyncio
from typing import Any

from api.http import RequestContext, parse_cookies, read_body, scope_headers, search_path_for


def test_scope_headers_lowercase_and_join_repeats() -> None:
    scope: dict[str, Any] = {"headers": [
        (b"Accept", b"text/csv"), (b"X-A", b"1"), (b"x-a", b"2"),
        (b"Cookie", b"a=1"), (b"cookie", b"b=2"),
    ]}
    assert scope_headers(scope) == {"accept": "text/csv", "x-a": "1, 2", "cookie": "a=1; b=2"}
    assert scope_headers({}) == {}


def test_parse_cookies() -> None:
    assert parse_cookies("a=1; b=x=y;  c=; bad; =v") == {"a": "1", "b": "x=y", "c": ""}
    assert parse_cookies(None) == {}


def test_search_path_quotes_the_schema() -> None:
    assert search_path_for("api") == '"api", "public"'
    assert search_path_for('we"ird') == '"we""ird", "public"'


def test_request_context_values_are_the_six_gucs() -> None:
    context = RequestContext.of("GET", "/rpc/f", {"cookie": "s=1", "x": "y"}, "api")
    assert context.cookies == {"s": "1"}
    assert context.values('{"role":"web_anon"}') == (
        '{"role":"web_anon"}', "GET", "/rpc/f", '{"cookie":"s=1","x":"y"}', '{"s":"1"}',
        '"api", "public"',
    )


def test_read_body_joins_chunks_and_stops_on_disconnect() -> None:
    messages = [{"type": "http.request", "body": b"ab", "more_body": True},
                {"type": "http.request", "body": b"cd", "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    assert asyncio.run(read_body(receive)) == b"abcd"
    messages[:] = [{"type": "http.request", "body": b"x", "more_body": True},
                   {"type": "http.disconnect"}]
    assert asyncio.run(read_body(receive)) == b"x"
