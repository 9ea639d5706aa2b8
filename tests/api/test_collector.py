"""The JupyterHub collector (api/collector/jupyterhub.py).

Parsing is tested on recorded ``kubectl get pods -o json`` documents (fixtures/pods_*.json)
without a cluster. The ingest path is tested three ways: against a stub receiver (what goes
over the wire), through the real SQL ingest function in a migrated database, and end to end
against the real HTTP app (``start_api_server``) with ``metrics-rpc collect jupyterhub --once``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from api import cli
from api.client import api_client
from api.collector import jupyterhub
from api.collector.jupyterhub import (
    Collector,
    CycleError,
    FileSource,
    IngestClient,
    IngestRejected,
    Observation,
    Skipped,
    matches_selector,
    observe,
    parse_pod,
    parse_selector,
    pods_of_document,
    run_forever,
    split_image,
)
from api.config import ConfigError, Settings
from tests.api.apiserver import ApiServer, running_api_server
from tests.pgfixtures import DbInfo

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SINGLEUSER = FIXTURES / "pods_singleuser.json"
SINGLE_POD = FIXTURES / "pods_single_pod.json"
T0 = datetime(2024, 5, 28, 10, 0, tzinfo=UTC)
SELECTOR = jupyterhub.DEFAULT_SELECTOR
DIGEST = "sha256:4b9c1f1e3a7d2c8e5f6a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e"


def _pods(path: Path = SINGLEUSER) -> list[Mapping[str, Any]]:
    return pods_of_document(json.loads(path.read_text()))


def _by_pod(observations: list[Observation]) -> dict[str, Observation]:
    return {one.pod_name: one for one in observations}


# --- image names ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("image", "base", "version"),
    [
        ("registry.example.com:5000/team/notebook:2024.05",
         "registry.example.com:5000/team/notebook", "2024.05"),
        ("registry.example.com:5000/team/notebook", "registry.example.com:5000/team/notebook",
         "latest"),
        ("localhost:5000/nb@sha256:abc123", "localhost:5000/nb", "sha256:abc123"),
        (f"jupyter/datascience-notebook@{DIGEST}", "jupyter/datascience-notebook", DIGEST),
        (f"quay.io/jupyter/scipy-notebook:2024-05-27@{DIGEST}", "quay.io/jupyter/scipy-notebook",
         "2024-05-27"),
        ("quay.io/jupyter/pytorch-notebook:cuda12-2024-05-27", "quay.io/jupyter/pytorch-notebook",
         "cuda12-2024-05-27"),
        ("jupyter/base-notebook", "jupyter/base-notebook", "latest"),
        ("python:3.12", "python", "3.12"),
    ],
)
def test_split_image(image: str, base: str, version: str) -> None:
    assert split_image(image) == (base, version)


# --- label selectors -------------------------------------------------------------------------
def test_equality_selectors_match_like_the_api_server() -> None:
    labels = {"component": "singleuser-server", "app": "jupyterhub"}

    def matches(selector: str) -> bool:
        return matches_selector(labels, parse_selector(selector))

    assert matches("component=singleuser-server")
    assert matches("component==singleuser-server,app=jupyterhub")
    assert not matches("component=hub")
    assert matches("component!=hub")
    assert matches("app")
    assert not matches("!app")
    assert matches("")
    assert parse_selector("a=1, b!=2,c,!d") == (
        ("a", "=", "1"), ("b", "!=", "2"), ("c", "exists", ""), ("d", "!exists", ""))


def test_set_based_selectors_are_refused_for_files() -> None:
    with pytest.raises(ValueError, match="set-based"):
        FileSource(SINGLEUSER, "component in (singleuser-server,hub)")


# --- documents and pods ----------------------------------------------------------------------
def test_documents_are_lists_or_single_pods() -> None:
    assert len(_pods()) == 6
    assert [pod["metadata"]["name"] for pod in _pods(SINGLE_POD)] == ["jupyter-alice"]
    with pytest.raises(ValueError, match="list of pods"):
        pods_of_document({"kind": "Service"})
    with pytest.raises(ValueError, match="JSON object"):
        pods_of_document([])


def test_recorded_pods_become_observations() -> None:
    observations, skipped = observe(FileSource(SINGLEUSER, SELECTOR).list_pods(), T0)
    seen = _by_pod(observations)
    assert sorted(seen) == ["jupyter-alice", "jupyter-bob", "jupyter-carol",
                            "jupyter-erin--analysis"]
    assert skipped == [Skipped("jupyter-dave", "phase is Pending, not Running")]

    alice = seen["jupyter-alice"]
    # The user container's env, not the sidecar's that comes first.
    assert (alice.user_email, alice.user_name) == ("Alice@Example.org", "Alice Smith")
    assert alice.node_name == "gke-hub-a100-pool-1a2b3c4d-x7k2"
    assert (alice.container_base, alice.container_version) == (
        "quay.io/jupyter/pytorch-notebook", "cuda12-2024-05-27")
    assert alice.age_seconds == 2 * 3600
    assert alice.observed_at == T0

    bob = seen["jupyter-bob"]
    assert (bob.container_base, bob.container_version) == (
        "registry.example.com:5000/team/notebook", "2024.05")
    assert bob.age_seconds == 1800


def test_missing_email_falls_back_to_the_hub_username() -> None:
    seen = _by_pod(observe(_pods(), T0)[0])
    carol = seen["jupyter-carol"]  # no GIT_AUTHOR_EMAIL: the annotation
    assert (carol.user_email, carol.user_name) == ("carol@example.org", "carol@example.org")
    assert (carol.container_base, carol.container_version) == (
        "jupyter/datascience-notebook", DIGEST)
    erin = seen["jupyter-erin--analysis"]  # no annotation either: the label
    assert (erin.user_email, erin.user_name) == ("erin", "erin")
    assert erin.container_version == "latest"


def test_a_pod_without_any_user_is_skipped_with_a_reason() -> None:
    pod = json.loads(SINGLE_POD.read_text())
    del pod["metadata"]["annotations"]["hub.jupyter.org/username"]
    pod["spec"]["containers"][0]["env"] = [
        e for e in pod["spec"]["containers"][0]["env"] if not e["name"].startswith("GIT_")
    ]
    result = parse_pod(pod, T0)
    assert isinstance(result, Skipped)
    assert "no GIT_AUTHOR_EMAIL" in result.reason


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda pod: pod["spec"].pop("nodeName"), "no spec.nodeName"),
        (lambda pod: pod["metadata"].pop("creationTimestamp"), "creationTimestamp"),
        (lambda pod: pod["status"].update(phase="Succeeded"), "phase is Succeeded"),
        (lambda pod: pod["spec"].update(containers=[]), "no container image"),
    ],
)
def test_incomplete_pods_are_skipped(change: Callable[[dict[str, Any]], Any], reason: str) -> None:
    pod = json.loads(SINGLE_POD.read_text())
    change(pod)
    result = parse_pod(pod, T0)
    assert isinstance(result, Skipped)
    assert reason in result.reason


def test_age_is_never_negative() -> None:
    pod = json.loads(SINGLE_POD.read_text())  # created 12:00, observed at 10:00 by a slow clock
    result = parse_pod(pod, T0)
    assert isinstance(result, Observation)
    assert result.age_seconds == 0


def test_observation_json_is_what_the_ingest_function_takes() -> None:
    alice = _by_pod(observe(_pods(), T0)[0])["jupyter-alice"]
    assert alice.to_json() == {
        "observed_at": "2024-05-28T10:00:00+00:00",
        "user_email": "Alice@Example.org",
        "user_name": "Alice Smith",
        "pod_name": "jupyter-alice",
        "node_name": "gke-hub-a100-pool-1a2b3c4d-x7k2",
        "container_base": "quay.io/jupyter/pytorch-notebook",
        "container_version": "cuda12-2024-05-27",
        "age_seconds": 7200,
    }


def test_unreadable_file_fails_the_cycle(tmp_path: Path) -> None:
    broken = tmp_path / "pods.json"
    broken.write_text("{not json")
    with pytest.raises(CycleError, match="cannot read pods"):
        FileSource(broken, SELECTOR).list_pods()
    with pytest.raises(CycleError, match="cannot read pods"):
        FileSource(tmp_path / "missing.json", SELECTOR).list_pods()


# --- sending ---------------------------------------------------------------------------------
class Receiver:
    """An httpx transport standing in for the API: answers from a list of canned replies."""

    def __init__(self, replies: list[httpx.Response | Exception] | None = None) -> None:
        self.replies = replies or []
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[httpx.Headers] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        self.headers.append(request.headers)
        if self.replies:
            reply = self.replies.pop(0)
            if isinstance(reply, Exception):
                raise reply
            return reply
        n = len(body["p_observations"])
        return httpx.Response(200, json={"received": n, "written": n, "duplicates": 0})

    def client(self) -> IngestClient:
        return IngestClient(writer_client(httpx.MockTransport(self), "writer-jwt"))


def writer_client(transport: httpx.BaseTransport, token: str) -> httpx.Client:
    settings = Settings(api_url="http://api.test/", token=token)
    return api_client(settings, jupyterhub.USER_AGENT, transport=transport)


class Clock:
    def __init__(self, start: datetime = T0, step: timedelta = timedelta(minutes=5)) -> None:
        self.now, self.step = start, step

    def __call__(self) -> datetime:
        current = self.now
        self.now += self.step
        return current


def test_one_cycle_is_one_authenticated_batch() -> None:
    receiver = Receiver()
    collector = Collector(FileSource(SINGLEUSER, SELECTOR), receiver.client(), clock=Clock())
    result = collector.cycle()
    assert (result.pods, result.observed, result.skipped) == (5, 4, 1)
    assert (result.received, result.written, result.duplicates) == (4, 4, 0)
    assert len(receiver.bodies) == 1
    assert receiver.headers[0]["authorization"] == "Bearer writer-jwt"
    assert receiver.headers[0]["user-agent"] == jupyterhub.USER_AGENT
    assert [o["pod_name"] for o in receiver.bodies[0]["p_observations"]] == [
        "jupyter-alice", "jupyter-bob", "jupyter-carol", "jupyter-erin--analysis"]
    assert result.summary().startswith("jupyterhub: 5 pods, 4 observed, 1 skipped")


def test_an_undelivered_batch_goes_again_with_the_next_cycle() -> None:
    receiver = Receiver([httpx.ConnectError("refused"),
                         httpx.Response(503, json={"code": "PGRST002", "message": "no cache"})])
    collector = Collector(FileSource(SINGLEUSER, SELECTOR), receiver.client(), clock=Clock())
    with pytest.raises(CycleError, match="failed"):
        collector.cycle()
    with pytest.raises(CycleError, match="503: PGRST002 no cache"):
        collector.cycle()
    result = collector.cycle()
    assert result.received == 12  # three cycles of four pods, in one batch
    assert len({o["observed_at"] for o in receiver.bodies[-1]["p_observations"]}) == 3
    assert collector.cycle().received == 4  # delivered ones are not sent again


def test_a_refused_batch_is_not_resent() -> None:
    refusal = httpx.Response(400, json={"code": "22023", "message": "p_observations[0]: bad",
                                        "details": None, "hint": None})
    receiver = Receiver([refusal])
    collector = Collector(FileSource(SINGLEUSER, SELECTOR), receiver.client(), clock=Clock())
    with pytest.raises(IngestRejected, match="400: 22023 p_observations\\[0\\]: bad"):
        collector.cycle()
    assert collector.cycle().received == 4


def test_an_unexpected_answer_fails_the_cycle() -> None:
    receiver = Receiver([httpx.Response(200, text="<html>proxy</html>")])
    collector = Collector(FileSource(SINGLEUSER, SELECTOR), receiver.client(), clock=Clock())
    with pytest.raises(CycleError, match="unexpected answer"):
        collector.cycle()


def test_a_failed_cycle_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver([httpx.ConnectError("refused")])
    collector = Collector(FileSource(SINGLEUSER, SELECTOR), receiver.client(), clock=Clock())
    sleeps: list[float] = []
    with caplog.at_level(logging.INFO, logger=jupyterhub.__name__):
        run_forever(collector, 300, sleep=sleeps.append, monotonic=lambda: 0.0, max_cycles=2)
    assert sleeps == [300]
    assert "cycle failed, retrying in 300s" in caplog.text
    assert "sent 8, written 8" in caplog.text


def test_the_collector_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METRICS_RPC_TOKEN", raising=False)
    monkeypatch.delenv("METRICS_RPC_CONFIG", raising=False)
    args = cli._parser().parse_args(["collect", "jupyterhub", "--once", "--from-file", "x.json"])
    with pytest.raises(ConfigError, match="METRICS_RPC_TOKEN"):
        jupyterhub.run(args, Settings())
    assert cli.main(["collect", "jupyterhub", "--once", "--from-file", "x.json"]) == 2


# --- the command line against a stub API -----------------------------------------------------
class StubApi:
    """A tiny HTTP server answering /rpc/ingest_container_observations with fixed counts."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[tuple[str, str | None, dict[str, Any]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append((self.path, self.headers.get("Authorization"), body))
                n = len(body["p_observations"])
                payload = json.dumps(
                    {"received": n, "written": n, "duplicates": 0} if stub.status == 200
                    else {"code": "PGRST000", "message": "down", "details": None, "hint": None}
                ).encode()
                self.send_response(stub.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def stub_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubApi]:
    stub = StubApi()
    monkeypatch.setenv("METRICS_RPC_API_URL", stub.url)
    monkeypatch.setenv("METRICS_RPC_TOKEN", "writer-jwt")
    monkeypatch.setattr(jupyterhub, "_now", lambda: T0)
    thread = threading.Thread(target=stub.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()
    thread.join(5)


def test_collect_once_from_file(stub_api: StubApi, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["collect", "jupyterhub", "--once", "--from-file", str(SINGLEUSER)])
    assert code == 0
    [(path, auth, body)] = stub_api.requests
    assert (path, auth) == ("/rpc/ingest_container_observations", "Bearer writer-jwt")
    assert len(body["p_observations"]) == 4
    assert "4 observed, 1 skipped; sent 4, written 4" in capsys.readouterr().out


def test_collect_reads_the_config_file(
    stub_api: StubApi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("METRICS_RPC_API_URL")
    monkeypatch.delenv("METRICS_RPC_TOKEN")
    conf = tmp_path / "metrics-rpc.conf"
    conf.write_text(f'metrics-rpc-api-url = "{stub_api.url}"\nmetrics-rpc-token = "from-file"\n')
    argv = ["collect", "jupyterhub", "--config", str(conf), "--once",
            "--from-file", str(SINGLEUSER)]
    assert cli.main(argv) == 0
    [(_, auth, _)] = stub_api.requests
    assert auth == "Bearer from-file"


def test_collect_once_fails_when_the_api_does(stub_api: StubApi) -> None:
    stub_api.status = 503
    assert cli.main(["collect", "jupyterhub", "--once", "--from-file", str(SINGLEUSER)]) == 1


# --- through the real ingest function --------------------------------------------------------
class SqlRpc:
    """An httpx transport that runs POST /rpc/<fn> as the writer role in a real database,
    mapping class-22 errors to 400 as PostgREST does. Enough for the collector's one call."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def __call__(self, request: httpx.Request) -> httpx.Response:
        function = request.url.path.removeprefix("/rpc/")
        assert function == "ingest_container_observations"
        body = json.loads(request.content)
        with psycopg.connect(self.dsn) as conn:
            try:
                conn.execute("set local role writer")
                row = conn.execute(
                    "select api.ingest_container_observations(%s::jsonb)",
                    (json.dumps(body["p_observations"]),),
                ).fetchone()
            except psycopg.Error as exc:
                status = 400 if (exc.sqlstate or "").startswith("22") else 500
                return httpx.Response(status, json={"code": exc.sqlstate, "message": str(exc)})
        assert row is not None
        return httpx.Response(200, json=row[0])


def _runtime(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        conn.execute("set local role web_anon")
        return conn.execute(
            "select user_email, user_name, total_hours, gpu_hours, cpu_hours, sessions "
            "from api.get_runtime_by_user('2024-05-28T00:00Z', '2024-05-29T00:00Z')"
        ).fetchall()


def test_collected_pods_give_the_expected_runtime(db: DbInfo) -> None:
    client = IngestClient(writer_client(httpx.MockTransport(SqlRpc(db.dsn)), "unused"))
    clock = Clock()
    collector = Collector(FileSource(SINGLEUSER, SELECTOR), client, clock=clock)
    assert collector.cycle().written == 4  # 10:00
    assert collector.cycle().written == 4  # 10:05
    clock.now = T0 + timedelta(minutes=5)
    replay = collector.cycle()  # 10:05 again: exactly once
    assert (replay.written, replay.duplicates) == (0, 4)

    assert _runtime(db.dsn) == [
        ("erin", "erin", Decimal("3.0833"), Decimal("0"), Decimal("3.0833"), 1),
        ("alice@example.org", "Alice Smith", Decimal("2.0833"), Decimal("2.0833"), Decimal("0"), 1),
        ("bob@example.org", "Bob Jones", Decimal("0.5833"), Decimal("0"), Decimal("0.5833"), 1),
        ("carol@example.org", "carol@example.org", Decimal("0.1667"), Decimal("0"),
         Decimal("0.1667"), 1),
    ]

    # Alice's pod restarted under the same name at 12:00: a second session.
    clock.now = datetime(2024, 5, 28, 12, 5, tzinfo=UTC)
    Collector(FileSource(SINGLE_POD, SELECTOR), client, clock=clock).cycle()
    alice = [row for row in _runtime(db.dsn) if row[0] == "alice@example.org"]
    assert alice == [("alice@example.org", "Alice Smith", Decimal("2.1667"), Decimal("2.1667"),
                      Decimal("0"), 2)]


# --- end to end: the real HTTP app -----------------------------------------------------------
@pytest.fixture
def sessions_api(make_db: Callable[..., DbInfo]) -> Iterator[ApiServer]:
    """The real app serving schema api on a fresh migrated database."""
    db = make_db("collector")
    try:
        with running_api_server(db, db_schemas=("api",)) as server:
            yield server
    finally:
        db.drop()


def test_collect_once_end_to_end(
    sessions_api: ApiServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server = sessions_api
    monkeypatch.setenv("METRICS_RPC_API_URL", server.base_url)
    monkeypatch.setenv("METRICS_RPC_TOKEN", server.writer_token)
    argv = ["collect", "jupyterhub", "--once", "--from-file", str(SINGLEUSER)]
    for at in (T0, T0 + timedelta(minutes=5)):
        monkeypatch.setattr(jupyterhub, "_now", lambda at=at: at)
        assert cli.main(argv) == 0
    assert "sent 4, written 4, duplicates 0" in capsys.readouterr().out
    assert cli.main(argv) == 0  # the 10:05 cycle again
    assert "sent 4, written 0, duplicates 4" in capsys.readouterr().out

    response = httpx.get(
        f"{server.base_url}/rpc/get_runtime_by_user",
        params={"p_from": "2024-05-28T00:00:00Z", "p_to": "2024-05-29T00:00:00Z"},
    )
    assert response.status_code == 200, response.text
    rows = response.json()
    assert [(r["user_email"], r["total_hours"], r["gpu_hours"], r["sessions"]) for r in rows] == [
        ("erin", 3.0833, 0, 1),
        ("alice@example.org", 2.0833, 2.0833, 1),
        ("bob@example.org", 0.5833, 0, 1),
        ("carol@example.org", 0.1667, 0, 1),
    ]

    refused = httpx.post(
        f"{server.base_url}/rpc/ingest_container_observations",
        json={"p_observations": [{"age_seconds": -1}]},
        headers={"Authorization": f"Bearer {server.writer_token}"},
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "22023"
    anonymous = httpx.post(f"{server.base_url}/rpc/ingest_container_observations",
                           json={"p_observations": []})
    assert anonymous.status_code == 401
