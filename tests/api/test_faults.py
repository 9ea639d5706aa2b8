"""Faults: PostgreSQL stops (``pg_ctl stop -m fast`` and ``-m smart``) while readers and
remote-write senders keep going. Every answer is 200/204 or a retryable 503, and once the
database is back every sample a sender retried is stored exactly once.

The cluster is a dedicated throwaway one, so stopping it never disturbs the shared test
cluster. Senders retry as Prometheus does: on 503 (a short pause between tries), never on
a 400.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from api.ingest.encode import V1_HEADERS, Series, write_request_v1
from api.migrate import migrate
from api.pgcluster import SUPERUSER, ThrowawayCluster
from tests.api.apiserver import ApiServer, running_api_server
from tests.pgfixtures import ROOT, DbInfo

SENDERS = 3
BATCHES = 12  # per sender
SAMPLES = 20  # per batch
READERS = 2
T0 = int((datetime.now(UTC) - timedelta(hours=1)).timestamp() * 1000)


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayCluster]:
    # next to the shared test cluster's folder (pytest's tmp dirs are private to root,
    # and initdb runs as the postgres user there)
    cluster = ThrowawayCluster(ROOT / ".data" / f"faults-{os.getpid()}").start()
    try:
        cluster.createdb("faults")
        asyncio.run(migrate(cluster.dsn("faults"), echo=lambda _line: None))
        yield cluster
    finally:
        cluster.remove()


class Traffic:
    """Readers and senders in threads; every status they get is recorded."""

    def __init__(self, server: ApiServer, label: str) -> None:
        self.server = server
        self.label = label
        self.write_statuses: list[int] = []
        self.read_answers: list[tuple[int, str]] = []
        self.written = threading.Semaphore(0)  # released per batch stored
        self.saw_503 = threading.Event()
        self.outage = threading.Event()  # set once the database is going away
        self.stop_reading = threading.Event()
        self.token = server.token(sub="faults")
        self.threads = [threading.Thread(target=self._send, args=(s,)) for s in range(SENDERS)]
        self.readers = [threading.Thread(target=self._read) for _ in range(READERS)]

    def body(self, sender: int, batch: int) -> bytes:
        return write_request_v1([
            Series({"__name__": f"faults_{self.label}", "sender": str(sender), "i": str(i)},
                   [(T0 + batch * 1000, float(batch))]) for i in range(SAMPLES)])

    def _send(self, sender: int) -> None:
        with httpx.Client(timeout=60) as client:
            for batch in range(BATCHES):
                if batch == BATCHES // 2:  # the second half goes into the outage
                    assert self.outage.wait(120)
                while True:
                    response = client.post(
                        f"{self.server.base_url}/api/v1/write", content=self.body(sender, batch),
                        headers={**V1_HEADERS, "Authorization": f"Bearer {self.token}"})
                    self.write_statuses.append(response.status_code)
                    if response.status_code != 503:
                        break
                    self.saw_503.set()
                    time.sleep(0.05)  # the sender's backoff
                self.written.release()

    def _read(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self.stop_reading.is_set():
                try:
                    response = client.get(
                        f"{self.server.base_url}/rpc/get_all_latest_common_metrics")
                except httpx.HTTPError as exc:  # a hang or a reset is an answer too: a wrong one
                    self.read_answers.append((0, repr(exc)))
                    continue
                self.read_answers.append((response.status_code, response.text[:200]))
                if response.status_code == 503:
                    time.sleep(0.05)

    def start(self) -> None:
        for thread in (*self.threads, *self.readers):
            thread.start()

    def wait_written(self, batches: int) -> None:
        for _ in range(batches):
            assert self.written.acquire(timeout=120), "senders made no progress"

    def finish(self) -> None:
        for thread in self.threads:
            thread.join(300)
        self.stop_reading.set()
        for thread in self.readers:
            thread.join(60)


class SuperuserSession:
    """A psql session opened now: it can still act once new connections are refused."""

    def __init__(self, cluster: ThrowawayCluster) -> None:
        self.psql = subprocess.Popen(
            ["psql", "-X", "-q", "-t", "-A", "-h", cluster.host, "-p", str(cluster.port),
             "-U", SUPERUSER, "-d", "faults"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def run(self, sql: str) -> None:
        """Runs ``sql`` and waits until psql has answered it."""
        assert self.psql.stdin is not None and self.psql.stdout is not None
        self.psql.stdin.write(f"{sql};\nselect 'done';\n")
        self.psql.stdin.flush()
        while (line := self.psql.stdout.readline()) and line.strip() != "done":
            pass
        assert line, "psql ended"

    def close(self) -> None:
        assert self.psql.stdin is not None
        self.psql.stdin.close()
        self.psql.wait(60)


def stop_fast(cluster: ThrowawayCluster, traffic: Traffic) -> None:
    cluster.stop("fast")
    traffic.outage.set()


def stop_smart(cluster: ThrowawayCluster, traffic: Traffic) -> None:
    """Smart shutdown refuses new connections (57P03) and waits for the sessions to end:
    a session opened before it ends the API's sessions, then its own."""
    session = SuperuserSession(cluster)
    session.run("select 1")  # connected before the shutdown starts
    # -W: return once the postmaster has the signal
    cluster._run(["pg_ctl", "stop", "-W", "-m", "smart", "-D", str(cluster.datadir)], check=True)
    session.run("select pg_terminate_backend(pid) from pg_stat_activity"
                " where usename = 'authenticator'")
    traffic.outage.set()
    assert traffic.saw_503.wait(120), "no sender saw the shutdown"
    session.close()
    while cluster.is_running():  # the last session gone, the server stops by itself
        time.sleep(0.1)


@pytest.fixture(scope="module", params=[stop_fast, stop_smart], ids=["fast", "smart"])
def outage(request: pytest.FixtureRequest, cluster: ThrowawayCluster) -> tuple[Traffic, DbInfo]:
    """One run: traffic flows, the database stops (``request.param``) and comes back."""
    stop = request.param
    db = DbInfo(cluster, "faults")
    with running_api_server(db, db_schemas=("api",), db_pool=4,
                            db_pool_acquisition_timeout=5) as server:
        traffic = Traffic(server, stop.__name__)
        traffic.start()
        try:
            traffic.wait_written(SENDERS * (BATCHES // 2))  # traffic flowed
            stop(cluster, traffic)
            assert traffic.saw_503.wait(120), "no sender saw the outage"
            cluster.start()
        finally:
            traffic.outage.set()
            if not cluster.is_running():
                cluster.start()
            traffic.finish()
    return traffic, db


def test_writes_get_204_or_503_and_every_sample_lands_exactly_once(outage):
    traffic, db = outage
    assert set(traffic.write_statuses) <= {204, 503}, traffic.write_statuses
    assert 503 in traffic.write_statuses
    expected = SENDERS * BATCHES * SAMPLES
    counts = db.psql(
        "select count(*) || ',' || count(distinct (s.series_id, s.time))"
        " from metrics.samples s join metrics.series r on r.id = s.series_id"
        f" where r.name = 'faults_{traffic.label}'")
    assert counts == f"{expected},{expected}"


def test_reads_get_200_or_503(outage):
    traffic, _ = outage
    unexpected = [(status, text) for status, text in traffic.read_answers
                  if status not in (200, 503)]
    assert not unexpected, unexpected
    assert 200 in {status for status, _ in traffic.read_answers}
