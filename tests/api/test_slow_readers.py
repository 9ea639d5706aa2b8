"""Slow readers cannot hold the pool hostage: a pool's worth of sockets that request a big
streamed result and then stop reading are cut after METRICS_RPC_SEND_TIMEOUT (transaction
rolled back, connection back in the pool), so a normal request still gets through."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.api import hardening_db as hardening
from tests.api.apiserver import ApiServer, serving
from tests.pgfixtures import DbInfo

POOL = 2
BIG_ROWS = 200_000  # ~25 MB of JSON: far more than the kernel buffers on both sides hold

BIG_SQL = """
create function api.slow_reader_big(p_rows int) returns table (id int, pad text)
language sql stable rows 100000 as $$
    select i, repeat('x', 100) from generate_series(1, p_rows) as i
$$;
revoke all on function api.slow_reader_big(int) from public;
grant execute on function api.slow_reader_big(int) to web_anon, writer;
"""


@pytest.fixture(scope="module")
def server(hardening_db: DbInfo) -> Iterator[ApiServer]:
    hardening_db.psql(BIG_SQL)
    settings = hardening.settings(
        hardening_db, db_pool=POOL, db_pool_acquisition_timeout=10.0, send_timeout=0.2,
    )
    with serving(settings, db=hardening_db) as api:
        yield api


def start_slow_reader(port: int) -> socket.socket:
    """A socket with a tiny receive buffer that asks for the big result, reads the status
    line (so the stream, and its transaction, has started) and then reads nothing more."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)  # before connect: the window
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET /rpc/slow_reader_big?p_rows={BIG_ROWS} HTTP/1.1\r\n"
                 "Host: test\r\n\r\n".encode())
    assert sock.recv(12) == b"HTTP/1.1 200"
    return sock


def read_to_eof(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def streams_cut(server: ApiServer) -> int:
    """How many slow_reader_big streams the server has cut (recorded with status 408)."""
    text = httpx.get(f"{server.base_url}/metrics", timeout=10).text
    found = re.search(r'^metrics_rpc_requests_total\{function="slow_reader_big",'
                      r'status="408"\} (\S+)$', text, re.M)
    return int(float(found.group(1))) if found else 0


def wait_for_cuts(server: ApiServer, count: int, timeout: float = 60) -> None:
    """Until the server has cut ``count`` streams: reading a socket before its stream was
    cut would unblock it and let it finish."""
    deadline = time.monotonic() + timeout
    while streams_cut(server) < count:
        assert time.monotonic() < deadline, f"fewer than {count} streams cut in {timeout}s"
        time.sleep(0.05)  # poll interval


def test_a_pool_of_slow_readers_does_not_block_a_normal_request(server: ApiServer) -> None:
    before = streams_cut(server)
    slow = [start_slow_reader(server.port) for _ in range(POOL)]
    try:
        # every pooled connection served a stream that stalled: this one must still get in
        response = httpx.get(f"{server.base_url}/rpc/hardening_rows", timeout=30)
        assert response.status_code == 200, response.text
        assert [r["id"] for r in response.json()] == [1, 2, 3]
        wait_for_cuts(server, before + POOL)
        for sock in slow:  # the server cut each stream: EOF before the last chunk
            rest = read_to_eof(sock)
            assert not rest.endswith(b"0\r\n\r\n")
            assert len(rest) < BIG_ROWS * 100
    finally:
        for sock in slow:
            sock.close()
    assert server.db is not None
    assert server.db.psql(
        "select count(*) from pg_stat_activity"
         " where datname = current_database() and state like 'idle in transaction%'"
    ) == "0"


def test_a_reader_that_keeps_up_gets_the_whole_stream(server: ApiServer) -> None:
    response = httpx.get(f"{server.base_url}/rpc/slow_reader_big",
                         params={"p_rows": "20000"}, timeout=60)
    assert response.status_code == 200
    assert len(response.json()) == 20000


def test_idle_in_transaction_backstop_is_set_for_the_api_roles(server: ApiServer) -> None:
    assert server.db is not None
    settings = server.db.psql(
        "select r.rolname || '=' || c from pg_db_role_setting s"
        " join pg_roles r on r.oid = s.setrole, unnest(s.setconfig) c"
        " where c like 'idle_in_transaction_session_timeout=%' and s.setdatabase = 0"
        " order by 1"
    ).split()
    assert settings == [
        "authenticator=idle_in_transaction_session_timeout=60s",
        "web_anon=idle_in_transaction_session_timeout=30s",
        "writer=idle_in_transaction_session_timeout=60s",
    ]
