"""``metrics-rpc serve`` as a real process: draining on SIGTERM, several workers on one
port (rate limits in Redis, schema reloads, summed /metrics), and a rolling restart of two
servers behind the real Caddy under load."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.pgcluster import free_port
from tests.api.apiserver import JWT_SECRET
from tests.api.redis_server import redis_server
from tests.api.test_caddy import caddy_in_front
from tests.pgfixtures import DbInfo

pytestmark = pytest.mark.slow

SLOW_STREAM_SQL = """
create or replace function test_api.slow_stream(seconds float8) returns setof int
  language plpgsql stable rows 100000 as $$
begin
  perform pg_sleep(seconds);
  return query select generate_series(1, 3);
end $$;
grant execute on function test_api.slow_stream(float8) to web_anon;
"""


class ServeProcess:
    """``metrics-rpc serve`` in a child process (its own process group)."""

    def __init__(self, db: DbInfo, port: int | None = None, *, args: tuple[str, ...] = (),
                 **env: str) -> None:
        self.port = port or free_port()
        self.admin_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"
        environment = {k: v for k, v in os.environ.items()
                       if not k.startswith(("PGRST_", "METRICS_RPC_"))}
        environment.update({
            "PGRST_DB_URI": db.authenticator_dsn, "PGRST_DB_SCHEMAS": "test_api",
            "PGRST_JWT_SECRET": JWT_SECRET, "PGRST_SERVER_HOST": "127.0.0.1",
            "PGRST_SERVER_PORT": str(self.port),
            "PGRST_ADMIN_SERVER_PORT": str(self.admin_port),
            "METRICS_RPC_RATE_LIMITS": "off", "PGRST_DB_POOL": "4", **env,
        })
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api", "serve", *args], env=environment,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> ServeProcess:
        _wait_for(lambda: _status(f"{self.admin_url}/ready") == 200, timeout,
                  lambda: f"not ready; exit code {self.process.poll()}")
        return self

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 60.0) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.TransportError:
        return None


def _refused(url: str) -> bool:
    """The connection is not served: refused, or reset before any response (a connect that
    reached the accept queue just as the listener closed is reset by the kernel)."""
    try:
        httpx.get(url, timeout=5)
    except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError):
        return True
    return False


def _wait_for(condition: Callable[[], Any], timeout: float = 30.0,
              why: Callable[[], str] = lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in time {why()}")
        time.sleep(0.05)


@pytest.fixture
def serve_process(rpc_db: DbInfo) -> Iterator[Callable[..., ServeProcess]]:
    started: list[ServeProcess] = []

    def start(port: int | None = None, **kwargs: Any) -> ServeProcess:
        started.append(ServeProcess(rpc_db, port, **kwargs))
        return started[-1]

    yield start
    for process in started:
        process.stop()


def _in_flight(db: DbInfo, needle: str) -> bool:
    return db.psql("select count(*) from pg_stat_activity where usename = 'authenticator' "
                   f"and state = 'active' and query like '%{needle}%'") != "0"


# --- graceful shutdown -----------------------------------------------------------------


def test_sigterm_drains_ready_first_new_connections_refused_in_flight_finish(
    rpc_db: DbInfo, serve_process: Callable[..., ServeProcess],
) -> None:
    rpc_db.psql(SLOW_STREAM_SQL)
    server = serve_process(METRICS_RPC_SHUTDOWN_GRACE="30s").wait_ready()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        call = pool.submit(httpx.get, f"{server.url}/rpc/sleepy", params={"seconds": 4},
                           timeout=60)
        stream = pool.submit(httpx.get, f"{server.url}/rpc/slow_stream",
                             params={"seconds": 4}, timeout=60)
        _wait_for(lambda: _in_flight(rpc_db, "sleepy") and _in_flight(rpc_db, "slow_stream"))
        server.signal(signal.SIGTERM)
        _wait_for(lambda: _status(f"{server.admin_url}/ready") == 503)
        assert _status(f"{server.admin_url}/live") == 200
        # the listener closes at uvicorn's next tick after the signal
        _wait_for(lambda: _refused(f"{server.url}/rpc/add?a=1"))
        assert call.result().status_code == 200 and call.result().json() == 1
        assert stream.result().status_code == 200 and stream.result().json() == [1, 2, 3]
    assert server.wait() == 0


def test_the_grace_period_bounds_the_drain(
    rpc_db: DbInfo, serve_process: Callable[..., ServeProcess],
) -> None:
    server = serve_process(METRICS_RPC_SHUTDOWN_GRACE="200ms").wait_ready()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        call = pool.submit(httpx.get, f"{server.url}/rpc/sleepy", params={"seconds": 60},
                           timeout=120)
        _wait_for(lambda: _in_flight(rpc_db, "sleepy"))
        server.signal(signal.SIGTERM)
        assert server.wait(30) == 0  # did not wait for the 60 s call
        # cut: an error response (retryable), or the connection closed
        with contextlib.suppress(httpx.TransportError):
            assert call.result().status_code >= 500


# --- workers ---------------------------------------------------------------------------


def test_workers_with_memory_rate_limits_refuse_to_start(rpc_db: DbInfo) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "api", "serve", "--workers", "2"],
        env={**os.environ, "PGRST_DB_URI": rpc_db.authenticator_dsn,
             "METRICS_RPC_RATE_LIMITS": "web_anon=60/minute"},
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "METRICS_RPC_RATE_LIMIT_STORAGE=redis://" in lines[0], lines


def _metric_sum(text: str, name: str) -> float:
    return sum(float(m[1]) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def test_two_workers_share_the_port_the_limits_the_reloads_and_the_metrics(
    rpc_db: DbInfo, serve_process: Callable[..., ServeProcess], tmp_path: Path,
) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    with redis_server(tmp_path) as redis_url:
        server = serve_process(args=("--workers", "2"),
                               METRICS_RPC_RATE_LIMITS="web_anon=60/minute",
                               METRICS_RPC_RATE_LIMIT_STORAGE=redis_url).wait_ready()
        assert len(_worker_pids(server)) == 2
        # the limit holds for the server: 100 calls, each on a new connection (so the
        # kernel spreads them over both workers), exactly 60 answered
        statuses = [httpx.get(f"{server.url}/rpc/add", params={"a": 1}).status_code
                    for _ in range(100)]
        assert statuses.count(200) == 60 and statuses.count(429) == 40
        metrics = httpx.get(f"{server.admin_url}/metrics").text
        assert _metric_sum(metrics, "metrics_rpc_requests_total") == 100
        assert set(re.findall(r'metrics_rpc_db_pool_size{worker="(\d)"}', metrics)) <= {"0", "1"}
        # a schema reload reaches every worker: a new function answers on every connection
        # (as writer: web_anon's minute is spent)
        rpc_db.psql("create function test_api.fresh() returns int language sql stable "
                    "as 'select 7'; grant execute on function test_api.fresh() to writer;"
                    "notify pgrst, 'reload schema'")
        writer = {"Authorization": f"Bearer {_token()}"}

        def fresh_everywhere() -> bool:
            return all(httpx.get(f"{server.url}/rpc/fresh", headers=writer).status_code == 200
                       for _ in range(20))

        _wait_for(fresh_everywhere)


def _token() -> str:
    from api.config import Settings
    from api.tokens import mint_token

    return mint_token(Settings(jwt_secret=JWT_SECRET), "writer", sub="scale-out")


def _worker_pids(server: ServeProcess) -> list[str]:
    out = subprocess.run(["pgrep", "-P", str(server.process.pid), "-f", "spawn_main"],
                         capture_output=True, text=True, check=False).stdout
    return out.split()


# --- rolling restart behind Caddy ----------------------------------------------------------


def test_a_rolling_restart_behind_caddy_loses_no_request(
    rpc_db: DbInfo, serve_process: Callable[..., ServeProcess], tmp_path: Path,
) -> None:
    if shutil.which("caddy") is None:
        pytest.skip("caddy is not installed")
    servers = [serve_process(METRICS_RPC_SHUTDOWN_GRACE="10s").wait_ready() for _ in range(2)]
    upstreams = " ".join(f"127.0.0.1:{s.port}" for s in servers)
    with caddy_in_front(upstreams, tmp_path) as caddy:
        stop = threading.Event()
        outcomes: list[int | str] = []

        def load() -> None:
            with httpx.Client(timeout=30) as client:
                while not stop.is_set():
                    try:
                        outcomes.append(client.get(f"{caddy.url}/rpc/sleepy",
                                                   params={"seconds": 0.02}).status_code)
                    except httpx.HTTPError as exc:
                        outcomes.append(type(exc).__name__)

        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            for i, server in enumerate(list(servers)):
                seen = len(outcomes)
                _wait_for(lambda seen=seen: len(outcomes) > seen + 20)  # under load
                server.signal(signal.SIGTERM)
                assert server.wait() == 0
                servers[i] = serve_process(server.port).wait_ready()
            seen = len(outcomes)
            _wait_for(lambda: len(outcomes) > seen + 20)
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
    failures = [o for o in outcomes if o != 200]
    assert outcomes and not failures, (len(outcomes), failures[:10])
