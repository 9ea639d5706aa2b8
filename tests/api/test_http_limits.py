"""Limits on the request head, over real HTTP with raw sockets: header size (431), URL
length (414, also past what the HTTP parser can read), the header read timeout
(slowloris and half-open connections are closed), repeated headers joined."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api import hardening_db as hardening
from tests.api.apiserver import ApiServer, serving
from tests.pgfixtures import DbInfo

MAX_HEADER_BYTES = 4096
HEADER_TIMEOUT = 0.3


@pytest.fixture(scope="module")
def server(hardening_db: DbInfo) -> Iterator[ApiServer]:
    settings = hardening.settings(hardening_db, max_header_bytes=MAX_HEADER_BYTES,
                                  header_timeout=HEADER_TIMEOUT)
    with serving(settings, db=hardening_db) as api:
        yield api


def connect(server: ApiServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    return sock


def send_all_until_closed(sock: socket.socket, data: bytes) -> None:
    """Send ``data``; the server may close the connection before it has all of it."""
    try:
        for start in range(0, len(data), 65536):
            sock.sendall(data[start:start + 65536])
    except (BrokenPipeError, ConnectionResetError):
        pass


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], Any]:
    """Read until the server closes: status, headers, JSON body."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body) if body else None


def request_head(path: str, *headers: str) -> bytes:
    return "\r\n".join([f"GET {path} HTTP/1.1", "Host: test", *headers, "", ""]).encode()


def test_headers_over_the_limit_are_431(server: ApiServer) -> None:
    with connect(server) as sock:
        sock.sendall(request_head("/rpc/hardening_rows", "X-Big: " + "a" * MAX_HEADER_BYTES))
        status, headers, body = read_response(sock)
    assert status == 431
    assert body["code"] == "MRPC431"
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["connection"] == "close"


def test_a_huge_header_is_refused_without_reading_it_all(server: ApiServer) -> None:
    with connect(server) as sock:
        send_all_until_closed(sock, request_head("/rpc/hardening_rows")[:-2]
                              + b"X-Huge: " + b"a" * (16 << 20))
        status, _, body = read_response(sock)
    assert status == 431
    assert body["code"] == "MRPC431"


def test_many_small_repeated_headers_over_the_limit_are_431(server: ApiServer) -> None:
    with connect(server) as sock:
        send_all_until_closed(sock, request_head("/rpc/hardening_rows", *["a: b"] * 300_000))
        status, _, _ = read_response(sock)
    assert status == 431


def test_headers_just_under_the_limit_pass(server: ApiServer) -> None:
    filler = "a" * (MAX_HEADER_BYTES - 200)
    response = httpx.get(f"{server.base_url}/rpc/hardening_rows", headers={"X-Fill": filler})
    assert response.status_code == 200


def test_repeated_headers_are_joined(server: ApiServer) -> None:
    with connect(server) as sock:
        sock.sendall(request_head("/rpc/hardening_echo", "X-Rep: 1", "X-Rep: 2", "X-Rep: 3",
                                  "Connection: close"))
        status, _, body = read_response(sock)
    assert status == 200
    assert body["headers"]["x-rep"] == "1, 2, 3"


def test_a_url_over_64_kib_is_414(server: ApiServer) -> None:
    with connect(server) as sock:
        send_all_until_closed(sock, request_head("/rpc/hardening_echo?p_text=" + "z" * 70_000))
        status, _, body = read_response(sock)
    assert status == 414
    assert body["code"] == "MRPC414"


def test_a_url_over_64_kib_is_414_even_when_the_limits_allow_more(
    hardening_db: DbInfo,
) -> None:
    settings = hardening.settings(hardening_db, max_header_bytes=0, max_url_length=200_000)
    with serving(settings, db=hardening_db) as api, connect(api) as sock:
        sock.sendall(request_head("/rpc/hardening_echo?p_text=" + "z" * 70_000))
        status, _, body = read_response(sock)
    assert status == 414
    assert body["code"] == "MRPC414"


def test_a_slowloris_head_is_cut_off(server: ApiServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /rpc/hardening_rows HTTP/1.1\r\nHost: test\r\nX-Slow: a")
        assert sock.recv(1024) == b""  # closed by the server, no answer


def test_a_silent_connection_is_closed(server: ApiServer) -> None:
    with connect(server) as sock:
        assert sock.recv(1024) == b""


def test_keep_alive_requests_on_one_connection_still_work(server: ApiServer) -> None:
    with httpx.Client(base_url=server.base_url) as client:
        for _ in range(3):
            assert client.get("/rpc/hardening_rows").status_code == 200
