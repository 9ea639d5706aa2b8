"""Read replicas against a real streaming standby (``pg_basebackup -R``) of a throwaway
primary, both on loopback: where each call runs, lag, a standby that goes down and comes
back, read-your-writes, and the response cache over a standby whose replay is paused."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.migrate import migrate
from api.pgcluster import ThrowawayCluster
from api.replicas import replayed
from tests.api.apiserver import ApiServer, apply_rpc_fixture, running_api_server
from tests.pgfixtures import ROOT, DbInfo

pytestmark = pytest.mark.slow

DB = "replicated"
# where_am_i() shows where a call ran; notes() / add_note() a read after a write
FIXTURE_SQL = """
create function test_api.where_am_i() returns boolean stable language sql
  as 'select pg_is_in_recovery()';
create function test_api.where_am_i_rows() returns setof boolean stable language sql
  rows 100000 as 'select pg_is_in_recovery()';
create function test_api.where_am_i_volatile() returns boolean volatile language sql
  as 'select pg_is_in_recovery()';
create table test_api.notes (body text primary key);
create function test_api.add_note(body text) returns void volatile language sql
  as 'insert into test_api.notes values (body)';
create function test_api.has_note(body text) returns boolean stable language sql
  as 'select exists (select from test_api.notes n where n.body = has_note.body)';
grant select, insert on test_api.notes to web_anon, writer;
-- cached reads of the notes (a note bumps the data version, as a sample write does): one
-- buffered, one streamed through a cursor (more rows than the streaming probe takes)
create function test_api.notes_changed() returns trigger language plpgsql security definer
  set search_path = pg_catalog
  as $$ begin perform metrics.bump_data_versions(array['test_api.notes']); return null; end $$;
create trigger data_version after insert or update or delete on test_api.notes
  for each statement execute function test_api.notes_changed();
create function test_api.notes_seen() returns text[] stable language sql
  set metrics_rpc.cache_control = 'public, max-age=600'
  as 'select coalesce(array_agg(body order by body), ''{}'') from test_api.notes';
create function test_api.notes_seen_rows() returns setof text stable language sql rows 100000
  set metrics_rpc.cache_control = 'public, max-age=600'
  as $$ select (select string_agg(body, ',' order by body) from test_api.notes)
        from generate_series(1, 6000) $$;
grant execute on all functions in schema test_api to web_anon, writer;
"""
INSERT_LSN = "select (pg_current_wal_insert_lsn() - '0/0')::int8"
REPLAY_LSN = "select (pg_last_wal_replay_lsn() - '0/0')::int8"


class Standby:
    """A streaming standby of ``primary``, made with ``pg_basebackup -R``."""

    def __init__(self, primary: ThrowawayCluster, folder: Path) -> None:
        self.cluster = primary.make_standby(folder)

    def psql(self, sql: str) -> str:
        return DbInfo(self.cluster, DB).psql(sql)


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[DbInfo, Standby]]:
    folder = ROOT / ".data" / f"r{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    primary = ThrowawayCluster(folder / "primary").start()
    standby: Standby | None = None
    try:
        primary.createdb(DB)
        asyncio.run(migrate(primary.dsn(DB), echo=lambda _line: None))
        db = DbInfo(primary, DB)
        apply_rpc_fixture(db)
        db.psql(FIXTURE_SQL)
        standby = Standby(primary, folder / "standby")
        standby.cluster.start()
        yield db, standby
    finally:
        if standby is not None:
            standby.cluster.remove()
        primary.remove()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def replicated(clusters: tuple[DbInfo, Standby]) -> Iterator[tuple[DbInfo, Standby]]:
    """The pair, with the standby running and replaying (whatever a test left)."""
    db, standby = clusters
    _resume(standby)
    yield db, standby
    _resume(standby)


def _resume(standby: Standby) -> None:
    standby.cluster.start()

    def replaying() -> bool:
        try:  # a standby that has just started refuses connections for a moment
            standby.psql("select pg_wal_replay_resume()")
            return standby.psql("select pg_is_wal_replay_paused()") == "f"
        except RuntimeError:
            return False

    _wait_for(replaying)


def _wait_for(condition: Callable[[], Any], timeout: float = 30.0) -> None:
    """Poll ``condition`` until it is true, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def _ran_on_standby(client: httpx.Client, path: str = "/rpc/where_am_i") -> bool:
    response = client.get(path)
    assert response.status_code == 200, response.text
    value = response.json()
    return bool(value[0] if isinstance(value, list) else value)


def _server(db: DbInfo, standby: Standby, **overrides: Any) -> Any:
    read_uri = standby.cluster.dsn(DB, user="authenticator")
    return running_api_server(db, db_read_uris=(read_uri,), **overrides)


def _wait_standby_used(api: ApiServer, path: str = "/rpc/where_am_i") -> None:
    with api.client() as client:
        _wait_for(lambda: _ran_on_standby(client, path))


def test_reads_are_served_by_the_standby(replicated: tuple[DbInfo, Standby]) -> None:
    db, standby = replicated
    with _server(db, standby) as api, api.client() as client:
        _wait_standby_used(api)
        assert all(_ran_on_standby(client) for _ in range(5))
        assert client.head("/rpc/where_am_i").status_code == 200
        assert _ran_on_standby(client, "/rpc/where_am_i_rows")  # streamed, too


def test_post_and_volatile_functions_run_on_the_primary(
    replicated: tuple[DbInfo, Standby],
) -> None:
    db, standby = replicated
    with _server(db, standby) as api, api.client() as client:
        _wait_standby_used(api)
        assert client.post("/rpc/where_am_i", json={}).json() is False
        assert client.get("/rpc/where_am_i_volatile").json() is False


def test_a_lagging_standby_is_skipped_until_it_catches_up(
    replicated: tuple[DbInfo, Standby],
) -> None:
    db, standby = replicated
    with _server(db, standby, db_replica_max_lag="200ms") as api, api.client() as client:
        _wait_standby_used(api)
        standby.psql("select pg_wal_replay_pause()")
        db.psql("insert into test_api.notes values ('lag')")  # WAL the standby has not
        _wait_for(lambda: not _ran_on_standby(client))
        assert client.get("/rpc/has_note", params={"body": "lag"}).json() is True
        standby.psql("select pg_wal_replay_resume()")
        _wait_for(lambda: _ran_on_standby(client))


def test_an_idle_primary_does_not_make_a_paused_standby_lag(
    replicated: tuple[DbInfo, Standby],
) -> None:
    db, standby = replicated
    insert_lsn, replay_lsn = INSERT_LSN, REPLAY_LSN
    with _server(db, standby, db_replica_max_lag="200ms") as api, api.client() as client:
        _wait_standby_used(api)
        deadline = time.monotonic() + 120
        while True:
            # the standby has replayed everything there is, its last transaction is long
            # past, replay is paused: still used, as long as the primary writes nothing.
            # PostgreSQL's own background WAL (standby snapshots) may come in between:
            # then resume, catch up and try again.
            _wait_for(lambda: replayed(int(standby.psql(replay_lsn)), int(db.psql(insert_lsn))))
            standby.psql("select pg_wal_replay_pause()")
            _wait_for(lambda: standby.psql("select pg_is_wal_replay_paused()") == "t")
            before = int(db.psql(insert_lsn))
            if replayed(int(standby.psql(replay_lsn)), before):
                used = [_ran_on_standby(client) for _ in range(5)]
                if int(db.psql(insert_lsn)) == before:
                    assert all(used), used
                    return
            assert time.monotonic() < deadline, "the primary never stayed idle"
            standby.psql("select pg_wal_replay_resume()")


def test_a_standby_that_is_down_is_skipped_and_used_again_when_back(
    replicated: tuple[DbInfo, Standby],
) -> None:
    db, standby = replicated
    with _server(db, standby) as api, api.client() as client:
        _wait_standby_used(api)
        standby.cluster.stop("fast")
        # no client error at any point: the very next reads are served by the primary
        for _ in range(5):
            assert _ran_on_standby(client) is False
        standby.cluster.start()
        _wait_for(lambda: _ran_on_standby(client))


def test_a_client_reads_its_own_write_while_the_standby_lags(
    replicated: tuple[DbInfo, Standby],
) -> None:
    db, standby = replicated
    # a max lag far above the test's length: the paused standby stays in use for others
    with _server(db, standby, db_replica_max_lag="10m") as api, api.client() as client:
        _wait_standby_used(api)
        standby.psql("select pg_wal_replay_pause()")
        writer = {"Authorization": f"Bearer {api.token('writer', sub='alice')}"}
        other = {"Authorization": f"Bearer {api.token('writer', sub='bob')}"}
        response = client.post("/rpc/add_note", json={"body": "mine"}, headers=writer)
        assert response.status_code == 204, response.text
        assert client.get("/rpc/has_note", params={"body": "mine"}, headers=writer).json()
        # another client is still served by the (paused) standby, which lacks the row
        assert client.get("/rpc/has_note", params={"body": "mine"}, headers=other).json() \
            is False
        standby.psql("select pg_wal_replay_resume()")
        _wait_for(lambda: _ran_on_standby(client))
        _wait_for(lambda: client.get("/rpc/where_am_i", headers=writer).json() is True)
        assert client.get("/rpc/has_note", params={"body": "mine"}, headers=writer).json()


# --- the response cache over a lagging standby --------------------------------------------


def _caught_up(db: DbInfo, standby: Standby) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    target = int(db.psql(INSERT_LSN))
    _wait_for(lambda: replayed(int(standby.psql(REPLAY_LSN)), target))


def _paused(standby: Standby) -> None:
    standby.psql("select pg_wal_replay_pause()")
    _wait_for(lambda: standby.psql("select pg_is_wal_replay_paused()") == "t")


def _cache_outcome(response: httpx.Response) -> str | None:
    for part in response.headers.get("server-timing", "").split(","):
        name, _, desc = part.strip().partition(";desc=")
        if name == "cache":
            return desc
    return None


def _seen(client: httpx.Client, path: str) -> tuple[str, str | None]:
    """The notes a cached read of ``path`` shows, and how the cache answered it."""
    response = client.get(path)
    assert response.status_code == 200, response.text
    body = response.json()  # notes_seen: the notes; notes_seen_rows: rows of them joined
    seen = body[0] or "" if path.endswith("_rows") else ",".join(body)
    return seen, _cache_outcome(response)


@pytest.mark.parametrize("path", ["/rpc/notes_seen", "/rpc/notes_seen_rows"])
def test_the_cache_never_keeps_a_lagging_standbys_answer_as_current(
    replicated: tuple[DbInfo, Standby], path: str,
) -> None:
    """An answer computed on a standby that has not replayed a write carries the data
    version of what it holds, older than the primary's: it is not served from the cache,
    and once the standby has caught up the next read shows the write (before the fix it
    was stored under the primary's new version and served until its max-age)."""
    db, standby = replicated
    tag = path.rsplit("_", 1)[-1]
    db.psql(f"delete from test_api.notes where body like 'c-{tag}-%'")
    # a max lag far above the test's length: the paused standby stays in use
    with _server(db, standby, db_replica_max_lag="10m", server_timing_enabled=True) as api, \
            api.client() as client:
        _wait_standby_used(api)
        db.psql(f"insert into test_api.notes values ('c-{tag}-1')")
        _caught_up(db, standby)
        first = _seen(client, path)
        assert f"c-{tag}-1" in first[0]
        assert _seen(client, path) == (first[0], "hit")

        _paused(standby)
        db.psql(f"insert into test_api.notes values ('c-{tag}-2')")  # committed: 204 time
        lagging = [_seen(client, path) for _ in range(3)]
        # the standby still answers (within the max lag, as any read), but never as a hit
        assert [outcome for _, outcome in lagging] == ["miss"] * 3, lagging
        assert all(f"c-{tag}-2" not in seen for seen, _ in lagging)

        standby.psql("select pg_wal_replay_resume()")
        _caught_up(db, standby)
        seen, outcome = _seen(client, path)
        assert f"c-{tag}-2" in seen and outcome == "miss"
        assert _seen(client, path) == (seen, "hit")
        assert _ran_on_standby(client)  # it was the standby that answered all along


def test_a_reader_never_shares_a_lagging_standbys_answer_after_its_own_write(
    replicated: tuple[DbInfo, Standby],
) -> None:
    """Read-your-writes through the cache: after a client's write, its read must not be
    answered by an entry (nor a query in flight) a lagging standby computed, whatever key
    it shares with readers the standby still serves."""
    db, standby = replicated
    db.psql("delete from test_api.notes where body like 'ryw-%'")
    with _server(db, standby, db_replica_max_lag="10m", server_timing_enabled=True) as api, \
            api.client() as client:
        _wait_standby_used(api)
        _caught_up(db, standby)
        assert _seen(client, "/rpc/notes_seen")[1] == "miss"  # stored, from the standby
        _paused(standby)
        # an anonymous write: anonymous readers share its read-your-writes note
        response = client.post("/rpc/add_note", json={"body": "ryw-1"})
        assert response.status_code == 204, response.text
        seen, outcome = _seen(client, "/rpc/notes_seen")
        assert "ryw-1" in seen and outcome == "miss"  # on the primary, not the old entry
