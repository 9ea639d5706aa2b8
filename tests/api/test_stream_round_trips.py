"""A function declared ROWS >= 10000 is streamed, but a small answer of it costs one
statement (one round trip), like a non-streamed call; a large one goes through a
transaction and one ``COPY … TO STDOUT`` of pre-rendered rows (the API holds one network
read of it at a time).

Statements are counted in the server log: the API's connections to a database of its own
log every statement they run (``log_statement = all`` for the authenticator in that
database); the pool has one connection, whose lines carry its backend's pid.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import msgspec
import pytest

from api.rpc.query import PROBE_ROWS
from tests.api import hardening_db as hardening
from tests.api.apiserver import ApiServer, serving
from tests.pgfixtures import DbInfo

RANGE_SQL = """
create function api.stream_range(p_rows int) returns table (id int, label text)
language sql stable rows 10000 as $$
    select i, 'row ' || i from generate_series(1, p_rows) as i
$$;
revoke all on function api.stream_range(int) from public;
grant execute on function api.stream_range(int) to web_anon;
create function api.stream_buckets(p_from timestamptz, p_to timestamptz, p_interval interval)
returns table (bucket timestamptz) language sql stable rows 10000 as $$
    select generate_series(p_from, p_to, p_interval)
$$;
revoke all on function api.stream_buckets(timestamptz, timestamptz, interval) from public;
grant execute on function api.stream_buckets(timestamptz, timestamptz, interval) to web_anon;
"""
WEEK = "p_from=2026-01-01T00:00:00%2B00:00&p_to=2026-01-08T00:00:00%2B00:00"
STATEMENT_LINE = re.compile(r"\[(\d+)\] LOG:  (?:statement|execute [^:]*): (.*)$")


@pytest.fixture(scope="module")
def db(make_db: Callable[..., DbInfo]) -> Iterator[DbInfo]:
    info = make_db("roundtrips")
    hardening.install(info)
    info.psql(RANGE_SQL)
    info.psql(f"alter role authenticator in database {info.name} set log_statement = 'all'")
    yield info
    info.drop()


@pytest.fixture(scope="module")
def server(db: DbInfo) -> Iterator[ApiServer]:
    with serving(hardening.settings(db, db_pool=1), db=db) as api:
        yield api


def wait_idle(db: DbInfo, timeout: float = 30) -> None:
    """Until the API's connections are idle (a stream's COMMIT comes after its last chunk)."""
    deadline = time.monotonic() + timeout
    while db.psql("select count(*) from pg_stat_activity where datname = current_database()"
                  " and usename = 'authenticator' and state <> 'idle'") != "0":
        assert time.monotonic() < deadline, "the API's connection stayed busy"


def statements_of(db: DbInfo, server: ApiServer, path: str,
                  headers: dict[str, str] | None = None) -> tuple[httpx.Response, list[str]]:
    """GET ``path`` (after one warm-up GET, which switches the pooled connection's role and
    prepares the statements) and the statements the API's connection ran for it."""
    assert httpx.get(f"{server.base_url}{path}", timeout=60).status_code == 200
    wait_idle(db)
    logfile: Path = db.cluster.logfile
    start = logfile.stat().st_size
    response = httpx.get(f"{server.base_url}{path}", headers=headers, timeout=60)
    wait_idle(db)  # a stream commits after its last chunk is sent
    # the log is written by the backend before it answers: complete once it is idle
    with logfile.open("rb") as log:
        log.seek(start)
        lines = log.read().decode(errors="replace").splitlines()
    logged = [(m.group(1), m.group(2)) for m in map(STATEMENT_LINE.search, lines) if m]
    # the pool's connection is the one that called the function (the API's other
    # connections, such as the schema cache listener's, have their own pids)
    pids = {pid for pid, sql in logged if "stream_" in sql}
    assert len(pids) == 1, logged
    return response, [sql for pid, sql in logged if pid in pids]


def test_a_small_streamed_answer_costs_one_statement(db: DbInfo, server: ApiServer) -> None:
    response, ran = statements_of(db, server, "/rpc/stream_range?p_rows=169")
    assert response.status_code == 200
    rows = msgspec.json.decode(response.content)
    assert [r["id"] for r in rows] == list(range(1, 170))
    assert len(ran) == 1, ran
    assert "stream_range" in ran[0]


def test_a_small_streamed_csv_answer_costs_one_statement(db: DbInfo, server: ApiServer) -> None:
    response, ran = statements_of(db, server, "/rpc/stream_range?p_rows=3&select=id,label")
    assert len(ran) == 1, ran
    response = httpx.get(f"{server.base_url}/rpc/stream_range?p_rows=3",
                         headers={"Accept": "text/csv"}, timeout=60)
    assert response.text == "id,label\n1,row 1\n2,row 2\n3,row 3"


def test_the_probe_limit_itself_is_answered_in_one_statement(
    db: DbInfo, server: ApiServer,
) -> None:
    response, ran = statements_of(db, server, f"/rpc/stream_range?p_rows={PROBE_ROWS}")
    assert len(msgspec.json.decode(response.content)) == PROBE_ROWS
    assert len(ran) == 1, ran


def test_a_large_streamed_answer_is_one_copy(db: DbInfo, server: ApiServer) -> None:
    rows = 4 * PROBE_ROWS + 7
    response, ran = statements_of(db, server, f"/rpc/stream_range?p_rows={rows}",
                                  {"Cookie": "session=cookie-secret", "X-Token": "header-secret"})
    body = msgspec.json.decode(response.content)
    assert [r["id"] for r in body] == list(range(1, rows + 1))
    assert "content-length" not in response.headers  # chunked: sent as it is read
    # the probe (dropped: more rows than it answers), then the request GUCs (bound), then
    # the rows as they come
    assert "stream_range" in ran[0]
    assert ran[1] == "begin read only"
    assert ran[2].startswith("select set_config('request.jwt.claims', $1, true)"), ran
    assert ran[3].startswith("COPY (select ") and ran[3].rstrip().endswith(") TO STDOUT"), ran
    assert ran[4:] == ["commit"], ran
    # COPY takes no parameters, but the request's headers and cookies are not in its text
    assert "secret" not in ran[3]
    assert "request.headers" not in ran[3]


def test_a_small_range_is_answered_in_one_statement(db: DbInfo, server: ApiServer) -> None:
    response, ran = statements_of(db, server, f"/rpc/stream_buckets?{WEEK}&p_interval=1 hour")
    assert len(msgspec.json.decode(response.content)) == 7 * 24 + 1
    assert len(ran) == 1, ran


def test_a_range_known_to_be_large_skips_the_probe(db: DbInfo, server: ApiServer) -> None:
    response, ran = statements_of(db, server,
                                  f"/rpc/stream_buckets?{WEEK}&p_interval=1 minute")
    assert len(msgspec.json.decode(response.content)) == 7 * 24 * 60 + 1
    assert ran[0] == "begin read only"
    assert len([s for s in ran if "stream_buckets" in s]) == 1, ran  # the COPY
