"""Response caching over real HTTP against a real PostgreSQL (and a real Redis): ETag and
304, the declared Cache-Control, the server cache's key and single flight, invalidation by
remote write on another replica, a lost LISTEN connection, and the metrics.

Queries are counted by ``api.cache_counted``: it bumps ``public.calls`` through dblink, a
second connection, so the count is real even inside the API's read-only transaction.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest
from postgrest import SyncPostgrestClient

from api.config import Settings
from api.ingest.encode import V1_HEADERS, Series, write_request_v1
from api.pgcluster import free_port
from tests.api.apiserver import ApiServer, serving
from tests.api.redis_server import redis_server
from tests.api.test_caddy import caddy_in_front
from tests.pgfixtures import DbInfo

SECRET = "response-cache-test-secret-0123456789abcdef"
HOUR = datetime(2026, 1, 5, 10, tzinfo=UTC)  # the range of the sessions read
# samples must be inside retention and the partitions made ahead: a few hours back
WRITE_HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
POLICY = "public, max-age=600, stale-while-revalidate=60"
HELD = 1616  # the advisory lock that holds api.cache_streamed_held in the database


def fixture_sql(db: DbInfo) -> str:
    return f"""
    create extension if not exists dblink;
    create table public.calls (key text primary key, n int not null);
    create function api.cache_counted(a int, b int default 0) returns int
    language plpgsql stable security definer
    set metrics_rpc.cache_control = '{POLICY}'
    as $$
    begin
        perform dblink_exec('{db.dsn}',
            format('insert into public.calls values (%L, 1) '
                   'on conflict (key) do update set n = calls.n + 1', a || ',' || b));
        return a + b;
    end $$;
    create function api.cache_own_headers() returns int
    language plpgsql stable
    set metrics_rpc.cache_control = '{POLICY}'
    as $$
    begin
        perform set_config('response.headers',
            '[{{"Cache-Control": "no-store"}}, {{"ETag": "\\"mine\\""}}]', true);
        return 1;
    end $$;
    create function api.cache_undeclared() returns int language sql stable as 'select 7';
    create function api.cache_volatile() returns int language sql volatile
    set metrics_rpc.cache_control = '{POLICY}' as 'select 8';
    create function api.cache_streamed(n int) returns setof int
    language plpgsql stable security definer rows 10000
    set metrics_rpc.cache_control = '{POLICY}'
    as $$
    begin
        perform dblink_exec('{db.dsn}',
            format('insert into public.calls values (%L, 1) '
                   'on conflict (key) do update set n = calls.n + 1', 's,' || n));
        return query select generate_series(1, n);
    end $$;
    -- as cache_streamed, but held at the start while the test holds advisory lock HELD
    create function api.cache_streamed_held(n int) returns setof int
    language plpgsql stable security definer rows 10000
    set metrics_rpc.cache_control = '{POLICY}'
    as $$
    begin
        perform dblink_exec('{db.dsn}',
            format('insert into public.calls values (%L, 1) '
                   'on conflict (key) do update set n = calls.n + 1', 'held,' || n));
        perform pg_advisory_xact_lock_shared({HELD});
        return query select generate_series(1, n);
    end $$;
    create function api.cache_rows(n int) returns table(id int, name text)
    language plpgsql stable security definer
    set metrics_rpc.cache_control = '{POLICY}'
    as $$
    begin
        perform dblink_exec('{db.dsn}',
            format('insert into public.calls values (%L, 1) '
                   'on conflict (key) do update set n = calls.n + 1', 'rows,' || n));
        return query select i, 'row ' || i from generate_series(1, n) as i;
    end $$;
    grant execute on function api.cache_counted(int, int), api.cache_own_headers(),
        api.cache_undeclared(), api.cache_volatile(), api.cache_streamed(int),
        api.cache_streamed_held(int), api.cache_rows(int) to web_anon, writer;
    """


@pytest.fixture(scope="module")
def database(make_db) -> Iterator[DbInfo]:
    info = make_db("cache")
    info.psql(fixture_sql(info))
    yield info
    info.drop()


def settings_for(database: DbInfo, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "db_uri": database.authenticator_dsn, "jwt_secret": SECRET, "db_pool": 4,
        "server_timing_enabled": True, "rate_limits": "off",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def api(database: DbInfo) -> Iterator[ApiServer]:
    with serving(settings_for(database), db=database) as server:
        yield server


def calls(database: DbInfo, a: int | str, b: int = 0) -> int:
    return int(database.psql(f"select coalesce((select n from public.calls "
                             f"where key = '{a},{b}'), 0)") or 0)


def get(api: ApiServer, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(f"{api.base_url}{path}", timeout=30, **kwargs)  # type: ignore[arg-type]


def cache_outcome(response: httpx.Response) -> str | None:
    for part in response.headers.get("server-timing", "").split(","):
        name, _, desc = part.strip().partition(";desc=")
        if name == "cache":
            return desc
    return None


# --- HTTP caching ---------------------------------------------------------------------


def test_a_200_has_a_strong_etag_and_if_none_match_gives_304_without_body(api):
    first = get(api, "/rpc/cache_counted?a=1")
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = get(api, "/rpc/cache_counted?a=1", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == POLICY
    other = get(api, "/rpc/cache_counted?a=1", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200 and other.json() == 1


def test_head_has_the_get_etag_and_no_body(api):
    got = get(api, "/rpc/cache_counted?a=2")
    head = httpx.head(f"{api.base_url}/rpc/cache_counted?a=2", timeout=30)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == got.headers["etag"]
    # no Content-Length for the body a HEAD does not send, as PostgREST (issue #18)
    assert "content-length" not in head.headers


def test_declared_policy_is_sent_with_vary(api):
    response = get(api, "/rpc/cache_counted?a=3")
    assert response.headers["cache-control"] == POLICY
    assert response.headers["vary"] == "Accept, Accept-Profile, Authorization, Prefer"


def test_a_jwt_authenticated_response_is_private(api):
    token = api.token("writer", sub="cache-test")
    response = get(api, "/rpc/cache_counted?a=4", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, max-age=600, stale-while-revalidate=60"


def test_without_a_declared_policy_only_the_etag_is_added(api):
    response = get(api, "/rpc/cache_undeclared")
    assert response.status_code == 200 and response.json() == 7
    assert "etag" in response.headers
    assert "cache-control" not in response.headers and "vary" not in response.headers
    assert cache_outcome(response) is None


def test_the_functions_own_response_headers_win(api):
    response = get(api, "/rpc/cache_own_headers")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["etag"] == '"mine"'


def test_the_shipped_read_functions_declare_a_policy(api):
    for function in ("get_latest_fdv", "get_all_latest_mainnet_metrics",
                     "get_latest_geo_coordinates", "get_excluded_addresses"):
        response = get(api, f"/rpc/{function}")
        assert response.status_code == 200, (function, response.text)
        assert response.headers["cache-control"].startswith("public, max-age="), function
    aggregate = get(api, "/rpc/get_agg_metric", params={
        "p_metric_name": "block_height", "p_from": HOUR.isoformat(),
        "p_to": (HOUR + timedelta(days=1)).isoformat()})
    assert aggregate.status_code == 200, aggregate.text
    assert aggregate.headers["cache-control"] == "public, max-age=300, stale-while-revalidate=600"
    sessions = get(api, "/rpc/get_active_users", params={
        "p_from": HOUR.isoformat(), "p_to": (HOUR + timedelta(hours=1)).isoformat()})
    assert sessions.headers["cache-control"] == "public, max-age=60"


# --- the server cache -------------------------------------------------------------------


def test_a_repeated_get_is_served_from_the_cache_without_a_query(api, database):
    first = get(api, "/rpc/cache_counted?a=10&b=1")
    second = get(api, "/rpc/cache_counted?a=10&b=1")
    assert (cache_outcome(first), cache_outcome(second)) == ("miss", "hit")
    assert second.json() == 11 and second.headers["etag"] == first.headers["etag"]
    assert "age" in second.headers
    assert calls(database, 10, 1) == 1


def test_equivalent_urls_share_one_entry(api, database):
    assert get(api, "/rpc/cache_counted?a=11&b=2").json() == 13
    swapped = get(api, "/rpc/cache_counted?b=2&a=11")
    assert cache_outcome(swapped) == "hit"
    assert calls(database, 11, 2) == 1


def test_what_changes_the_answer_is_in_the_key(api, database):
    """Filters, select, order, page and media type each give their own entry; repeating
    any of them is a hit of its own entry, with its own body."""
    variants: list[tuple[str, dict[str, str]]] = [
        ("", {}), ("&select=id", {}), ("&id=gt.2", {}), ("&order=id.desc", {}),
        ("&limit=2", {}), ("", {"Accept": "text/csv"}),
    ]
    first = [get(api, f"/rpc/cache_rows?n=4{query}", headers=headers)
             for query, headers in variants]
    again = [get(api, f"/rpc/cache_rows?n=4{query}", headers=headers)
             for query, headers in variants]
    assert [cache_outcome(r) for r in first] == ["miss"] * len(variants)
    assert [cache_outcome(r) for r in again] == ["hit"] * len(variants)
    assert [r.content for r in again] == [r.content for r in first]
    assert len({r.content for r in first}) == len(variants)
    assert first[1].json() == [{"id": i} for i in range(1, 5)]
    assert first[5].text.startswith("id,name\n1,row 1")
    assert calls(database, "rows", 4) == len(variants)


def test_the_key_holds_the_claims_of_authenticated_roles_only(api, database):
    alice = api.token("writer", sub="alice")
    bob = api.token("writer", sub="bob")
    for token in (alice, bob, alice):
        get(api, "/rpc/cache_counted?a=12", headers={"Authorization": f"Bearer {token}"})
    anonymous = [get(api, "/rpc/cache_counted?a=12") for _ in range(3)]
    # alice once, bob once, the anonymous role once (whatever else differs)
    assert calls(database, 12) == 3
    assert [cache_outcome(r) for r in anonymous] == ["miss", "hit", "hit"]


def test_volatile_functions_are_not_cached(api):
    first = get(api, "/rpc/cache_volatile")
    assert first.status_code == 200 and cache_outcome(first) is None
    assert "etag" in first.headers


def test_a_hundred_concurrent_misses_run_one_query(api, database):
    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=api.base_url, timeout=60, limits=limits) as client:
            return await asyncio.gather(*(client.get("/rpc/cache_counted?a=13&b=13")
                                          for _ in range(100)))

    responses = asyncio.run(burst())
    assert {r.status_code for r in responses} == {200}
    assert {r.text for r in responses} == {"26"}
    assert calls(database, 13, 13) == 1


def test_cache_off_runs_every_query_but_keeps_the_http_headers(database):
    with serving(settings_for(database, cache_enabled=False), db=database) as server:
        responses = [get(server, "/rpc/cache_counted?a=14") for _ in range(2)]
    assert calls(database, 14) == 2
    assert [cache_outcome(r) for r in responses] == [None, None]
    assert responses[0].headers["cache-control"] == POLICY
    assert responses[0].headers["etag"] == responses[1].headers["etag"]


def test_cache_counters_are_in_metrics(api):
    get(api, "/rpc/cache_counted?a=15")
    get(api, "/rpc/cache_counted?a=15")
    text = get(api, "/metrics").text
    for name in ('metrics_rpc_cache_lookups_total{outcome="hit"}',
                 'metrics_rpc_cache_lookups_total{outcome="miss"}',
                 "metrics_rpc_cache_evictions_total", "metrics_rpc_cache_bytes",
                 "metrics_rpc_cache_invalidation_lag_seconds_bucket"):
        assert name in text, name


# --- invalidation by data -----------------------------------------------------------------


def supply_write(supply: int, minute: int) -> bytes:
    stamp = int((WRITE_HOUR + timedelta(minutes=minute)).timestamp() * 1000)
    return write_request_v1([Series(
        {"__name__": "manifest_tokenomics_total_supply", "manifest_tier": "mainnet",
         "supply": str(supply), "job": "tokenomics"}, [(stamp, 1.0)])])


def remote_write(server: ApiServer, body: bytes) -> None:
    headers = dict(V1_HEADERS)
    headers["Authorization"] = f"Bearer {server.token('writer', sub='cache-test')}"
    response = httpx.post(f"{server.base_url}/api/v1/write", content=body, headers=headers,
                          timeout=30)
    assert response.status_code == 204, response.text


def total_supply(server: ApiServer) -> str:
    response = get(server, "/rpc/get_all_latest_mainnet_metrics")
    assert response.status_code == 200, response.text
    rows = {row["table_name"]: row for row in response.json()}
    row = rows.get("manifest_tokenomics_total_supply")
    return "" if row is None else str(row.get("value"))


def assert_write_seen_on_every_replica(first: ApiServer, second: ApiServer) -> None:
    remote_write(first, supply_write(1000, minute=1))
    assert total_supply(first) == total_supply(second) == "1000"
    assert total_supply(second) == "1000"  # now from the cache
    for step, (writer, reader) in enumerate([(first, second), (second, first)] * 2):
        value = 2000 + step
        remote_write(writer, supply_write(value, minute=2 + step))
        assert total_supply(reader) == str(value)
        assert total_supply(writer) == str(value)


def test_a_write_is_seen_by_the_next_get_on_replicas_with_memory_storage(make_db):
    database = make_db("cache_mem")
    try:
        settings = settings_for(database)
        with serving(settings, db=database) as first, serving(settings, db=database) as second:
            assert_write_seen_on_every_replica(first, second)
    finally:
        database.drop()


def test_a_write_is_seen_by_the_next_get_on_replicas_sharing_redis(make_db, tmp_path: Path):
    database = make_db("cache_redis")
    try:
        with redis_server(tmp_path) as url:
            settings = settings_for(database, cache_storage=url)
            with serving(settings, db=database) as first, \
                    serving(settings, db=database) as second:
                assert_write_seen_on_every_replica(first, second)
                first_hit = get(first, "/rpc/get_all_latest_mainnet_metrics")
                # the entry one replica stored is the other's hit
                assert cache_outcome(get(second, "/rpc/get_all_latest_mainnet_metrics")) == "hit"
                assert first_hit.status_code == 200
    finally:
        database.drop()


def test_an_excluded_address_edit_invalidates(api, database):
    before = get(api, "/rpc/get_excluded_addresses")
    assert cache_outcome(get(api, "/rpc/get_excluded_addresses")) == "hit"
    token = api.token("writer", sub="cache-test")
    added = httpx.post(f"{api.base_url}/rpc/add_excluded_address", json={"p_value": "addr-cache"},
                       headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert added.status_code in (200, 204), added.text
    after = get(api, "/rpc/get_excluded_addresses")
    assert "addr-cache" in after.text and "addr-cache" not in before.text


def test_a_lost_listen_connection_never_serves_stale_data(make_db):
    database = make_db("cache_lost")
    try:
        with serving(settings_for(database), db=database) as server:
            remote_write(server, supply_write(500, minute=1))
            assert total_supply(server) == "500"
            assert cache_outcome(get(server, "/rpc/get_all_latest_mainnet_metrics")) == "hit"
            # cut the replica's data-version connection, then write behind its back
            database.psql("select pg_terminate_backend(pid) from pg_stat_activity "
                          "where application_name = 'metrics-rpc data versions'")
            stamp = (WRITE_HOUR + timedelta(minutes=2)).isoformat()
            database.psql(
                f"select ingest.write_samples(array['{stamp}']::timestamptz[], "
                "array['manifest_tokenomics_total_supply'], "
                "array['{\"manifest_tier\": \"mainnet\", \"supply\": \"600\"}']::jsonb[], "
                "array[1]::float8[])")
            assert total_supply(server) == "600"
    finally:
        database.drop()


def test_container_observations_invalidate(api):
    params = {"p_from": HOUR.isoformat(), "p_to": (HOUR + timedelta(hours=1)).isoformat()}
    before = get(api, "/rpc/get_active_users", params=params)
    assert before.status_code == 200 and before.json() == []
    assert cache_outcome(get(api, "/rpc/get_active_users", params=params)) == "hit"
    token = api.token("writer", sub="collector")
    observation = {"observed_at": (HOUR + timedelta(minutes=5)).isoformat(),
                   "user_email": "ada@example.org", "pod_name": "jupyter-ada",
                   "node_name": "cpu-1", "container_base": "quay.io/x",
                   "container_version": "1", "age_seconds": 300}
    stored = httpx.post(f"{api.base_url}/rpc/ingest_container_observations",
                        json={"p_observations": [observation]},
                        headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert stored.status_code == 200, stored.text
    after = get(api, "/rpc/get_active_users", params=params)
    assert cache_outcome(after) == "miss"
    assert [row["active_users"] for row in after.json()] == [1]


def _cache_entries(server: ApiServer) -> float:
    for line in get(server, "/metrics").text.splitlines():
        if line.startswith("metrics_rpc_cache_entries"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("metrics_rpc_cache_entries is not in /metrics")


def test_a_data_notice_frees_the_memory_entries(api, database):
    get(api, "/rpc/cache_counted?a=50")
    assert cache_outcome(get(api, "/rpc/cache_counted?a=50")) == "hit"
    assert _cache_entries(api) >= 1
    remote_write(api, supply_write(3000, minute=30))
    # max-age is 10 minutes: only the NOTIFY can empty the memory storage this soon
    asyncio.run(_until(_async(lambda: _cache_entries(api) == 0)))
    text = get(api, "/metrics").text
    assert _metric(text, "metrics_rpc_cache_invalidations_total") >= 1
    assert cache_outcome(get(api, "/rpc/cache_counted?a=50")) == "miss"


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


def test_a_new_listen_connection_drops_every_entry(make_db):
    """Whatever changed while no notice could arrive is unknown: on reconnect the memory
    storage is emptied (no write happens here, and the entries' max-age is 10 minutes)."""
    database = make_db("cache_reconnect")
    try:
        database.psql(fixture_sql(database))
        with serving(settings_for(database), db=database) as server:
            for _ in range(2):
                get(server, "/rpc/cache_counted?a=40")
            assert _cache_entries(server) >= 1
            database.psql("select pg_terminate_backend(pid) from pg_stat_activity "
                          "where application_name = 'metrics-rpc data versions'")
            asyncio.run(_until(_async(lambda: _cache_entries(server) == 0)))
            assert cache_outcome(get(server, "/rpc/cache_counted?a=40")) in ("miss", "bypass")
        assert calls(database, 40) == 2
    finally:
        database.drop()


def _async(condition: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await asyncio.to_thread(condition)
    return check


def test_postgrest_py_works_unchanged_on_cached_functions(api, database):
    with SyncPostgrestClient(api.base_url, schema="api") as client:
        answers = [client.rpc("cache_rows", {"n": 5}, get=True).gt("id", 3).execute()
                   for _ in range(2)]
        scalar = [client.rpc("cache_counted", {"a": 41}, get=True).execute() for _ in range(2)]
    assert [a.data for a in answers] == [[{"id": 4, "name": "row 4"},
                                          {"id": 5, "name": "row 5"}]] * 2
    assert [s.data for s in scalar] == [41, 41]
    assert calls(database, "rows", 5) == 1 and calls(database, 41) == 1


POSTGREST_JS = Path(__file__).resolve().parent / "postgrest_js"
JS_CALLS = """
import { PostgrestClient } from '@supabase/postgrest-js'
const client = new PostgrestClient(process.argv[1], { schema: 'api' })
const out = []
for (let i = 0; i < 2; i++) {
  for (const call of [
    client.rpc('cache_rows', { n: 6 }, { get: true }).select('id').gte('id', 5),
    client.rpc('cache_counted', { a: 42 }, { get: true }),
    client.rpc('cache_streamed', { n: 7 }, { get: true }),
  ]) {
    const { data, error, status } = await call
    out.push({ data, error, status })
  }
}
console.log(JSON.stringify(out))
"""


def test_postgrest_js_works_unchanged_on_cached_functions(api, database):
    node = shutil.which("node")
    assert node is not None, "node is installed by scripts/bootstrap.sh"
    done = subprocess.run([node, "--input-type=module", "-e", JS_CALLS, api.base_url],
                          cwd=POSTGREST_JS, capture_output=True, text=True, timeout=120,
                          check=True)
    results = json.loads(done.stdout)
    expected = [{"data": [{"id": 5}, {"id": 6}], "error": None, "status": 200},
                {"data": 42, "error": None, "status": 200},
                {"data": list(range(1, 8)), "error": None, "status": 200}]
    assert results == expected * 2
    assert (calls(database, "rows", 6), calls(database, 42), calls(database, "s", 7)) == (1, 1, 1)


def test_a_redis_that_is_down_is_a_miss_not_an_error(database):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with serving(settings_for(database, cache_storage=dead), db=database) as server:
        responses = [get(server, "/rpc/cache_counted?a=16") for _ in range(2)]
    assert [r.status_code for r in responses] == [200, 200]
    assert [r.json() for r in responses] == [16, 16]
    assert calls(database, 16) == 2  # nothing could be stored: each ran its query


def test_a_small_streamed_answer_is_kept_and_then_served_whole_with_an_etag(api, database):
    first = get(api, "/rpc/cache_streamed?n=20")
    assert first.status_code == 200 and first.json() == list(range(1, 21))
    assert "etag" not in first.headers  # streamed: the body was not known in advance
    assert first.headers["cache-control"] == POLICY
    second = get(api, "/rpc/cache_streamed?n=20")
    assert cache_outcome(second) == "hit"
    assert second.content == first.content and second.headers["etag"]
    again = get(api, "/rpc/cache_streamed?n=20",
                headers={"If-None-Match": second.headers["etag"]})
    assert again.status_code == 304
    assert calls(database, "s", 20) == 1


def test_a_streamed_answer_larger_than_an_entry_is_not_kept(database):
    # 4 KiB of memory storage: entries up to 1 KiB; 2,000 numbers are far more
    with serving(settings_for(database, cache_bytes=4096), db=database) as server:
        responses = [get(server, "/rpc/cache_streamed?n=2000") for _ in range(2)]
    assert [len(r.json()) for r in responses] == [2000, 2000]
    assert calls(database, "s", 2000) == 2


# --- single flight of streamed misses ----------------------------------------------------


async def _until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait for observable state (no fixed sleep stands in for it); pytest's timeout and
    the HTTP timeouts bound a condition that never comes."""
    while not await condition():  # noqa: ASYNC110 (state in another process: polled)
        await asyncio.sleep(0.02)


async def _held_calls(conn: asyncpg.Connection, n: int) -> int:
    return int(await conn.fetchval(
        "select coalesce((select n from public.calls where key = $1), 0)", f"held,{n}"))


async def _streamed_burst(server: ApiServer, database: DbInfo, n: int,
                          followers: int) -> list[httpx.Response]:
    """One GET of ``cache_streamed_held?n=…`` held in the database (its query has started:
    the call is counted) while ``followers`` more GETs of the same URL are sent; then the
    hold is released. All the responses."""
    path = f"/rpc/cache_streamed_held?n={n}"
    conn = await asyncpg.connect(database.dsn)
    try:
        await conn.execute("select pg_advisory_lock($1)", HELD)
        limits = httpx.Limits(max_connections=followers + 1)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=120,
                                     limits=limits) as client:
            leader = asyncio.ensure_future(client.get(path))
            before = await _held_calls(conn, n)
            await _until(lambda: _held_calls_above(conn, n, before))
            rest = [asyncio.ensure_future(client.get(path)) for _ in range(followers)]
            await asyncio.sleep(0)  # let them be sent before the hold is lifted
            await conn.execute("select pg_advisory_unlock($1)", HELD)
            return [await leader, *await asyncio.gather(*rest)]
    finally:
        await conn.close()


async def _held_calls_above(conn: asyncpg.Connection, n: int, before: int) -> bool:
    return await _held_calls(conn, n) > before


def _one_request_calls(server: ApiServer, database: DbInfo, n: int) -> int:
    """How many times one uncached GET of ``n`` rows calls the function (the probe of a
    streamed read, then its cursor when it has more rows than the probe takes)."""
    before = calls(database, "held", n)
    response = get(server, f"/rpc/cache_streamed_held?n={n}")
    assert response.status_code == 200
    return calls(database, "held", n) - before


@pytest.mark.parametrize("rows", [20, 6000])  # answered by the probe; through the cursor
def test_concurrent_misses_of_a_streamed_read_run_one_query(database, rows):
    with serving(settings_for(database, db_pool=8), db=database) as server:
        per_request = _one_request_calls(server, database, rows + 1)  # another key
        before = calls(database, "held", rows)
        responses = asyncio.run(_streamed_burst(server, database, rows, followers=30))
        assert calls(database, "held", rows) - before == per_request
    expected = list(range(1, rows + 1))
    assert all(r.status_code == 200 for r in responses)
    assert all(msgspec.json.decode(r.content) == expected for r in responses)
    # the first streamed it; every other one got it whole, with its ETag
    assert cache_outcome(responses[0]) == "miss" and "etag" not in responses[0].headers
    assert {cache_outcome(r) for r in responses[1:]} == {"hit"}
    assert len({r.headers["etag"] for r in responses[1:]}) == 1


def test_followers_of_a_stream_too_large_to_keep_do_not_wait_for_its_leader(database):
    """The leader's client reads nothing: its stream is stuck for as long as the test
    wants (no send timeout). Its answer is larger than an entry, so the requests that
    waited for it are released as soon as that is known, and each streams its own."""
    rows, followers = 2_000_000, 3  # far more than the socket buffers hold
    settings = settings_for(database, cache_bytes=4096, send_timeout=0, db_pool=8)
    expected = list(range(1, rows + 1))

    async def scenario(server: ApiServer) -> list[httpx.Response]:
        conn = await asyncpg.connect(database.dsn)
        stuck = None
        try:
            await conn.execute("select pg_advisory_lock($1)", HELD)
            before = await _held_calls(conn, rows)
            reader, stuck = await asyncio.open_connection("127.0.0.1", server.port)
            stuck.write(f"GET /rpc/cache_streamed_held?n={rows} HTTP/1.1\r\n"
                        "Host: test\r\n\r\n".encode())
            await stuck.drain()
            await _until(lambda: _held_calls_above(conn, rows, before))
            async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as client:
                rest = [asyncio.ensure_future(client.get(f"/rpc/cache_streamed_held?n={rows}"))
                        for _ in range(followers)]
                await asyncio.sleep(0)
                await conn.execute("select pg_advisory_unlock($1)", HELD)
                head = await reader.readuntil(b"\r\n\r\n")  # then it reads no more
                assert head.startswith(b"HTTP/1.1 200"), head
                return await asyncio.gather(*rest)
        finally:
            if stuck is not None:
                stuck.close()
            await conn.close()

    with serving(settings, db=database) as server:
        per_request = _one_request_calls(server, database, rows - 1)
        responses = asyncio.run(scenario(server))
    assert [r.status_code for r in responses] == [200] * followers
    assert all(r.json() == expected for r in responses)
    assert all(cache_outcome(r) == "miss" for r in responses)
    # the leader, then each follower on its own: nothing was kept or shared
    assert calls(database, "held", rows) == per_request * (1 + followers)


# --- Caddy in front (docs/CACHING.md) -------------------------------------------------------


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed")
def test_behind_caddy_the_validators_pass_through_and_revalidation_ends_in_our_304(
    api, database, tmp_path: Path,
):
    path = "/rpc/cache_rows?n=60"  # large enough for Caddy to compress it
    direct = get(api, path)
    with caddy_in_front(f"127.0.0.1:{api.port}", tmp_path) as caddy:
        through = httpx.get(f"{caddy.url}{path}", headers={"Accept-Encoding": "gzip"},
                            timeout=30)
        assert through.status_code == 200
        assert through.headers.get("content-encoding") == "gzip"
        assert through.json() == direct.json()
        for name in ("etag", "cache-control"):
            assert through.headers[name] == direct.headers[name], name
        # compression adds what it depends on, as it should
        assert through.headers["vary"] == direct.headers["vary"] + ", Accept-Encoding"
        assert "age" in through.headers  # served from the server cache
        again = httpx.get(f"{caddy.url}{path}", timeout=30, headers={
            "Accept-Encoding": "gzip", "If-None-Match": through.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == direct.headers["etag"]
    assert calls(database, "rows", 60) == 1
