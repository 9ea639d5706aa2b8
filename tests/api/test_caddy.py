"""The real ``caddy`` binary with the repository's Caddyfile in front of the real app."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.config import Settings
from api.pgcluster import free_port
from tests.api import hardening_db as hardening
from tests.api.apiserver import running_app
from tests.pgfixtures import DbInfo

ROOT = Path(__file__).resolve().parents[2]
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "frame-ancestors 'none'",
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed"),
]


class Caddy:
    def __init__(self, url: str, log_path: Path) -> None:
        self.url = url
        self.log_path = log_path

    def access_log(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if entry.get("msg") == "handled request":
                    entries.append(entry)
        return entries


@contextmanager
def caddy_in_front(upstreams: str, workdir: Path, **env: str) -> Iterator[Caddy]:
    port, internal, admin = free_port(), free_port(), free_port()
    log_path = workdir / "caddy.log"
    environment = {
        **os.environ,
        "HOME": str(workdir),
        "XDG_DATA_HOME": str(workdir / "data"),
        "XDG_CONFIG_HOME": str(workdir / "config"),
        "CADDY_SITE_ADDRESS": f":{port}",
        "CADDY_INTERNAL_ADDRESS": f":{internal}",
        "CADDY_ADMIN": f"127.0.0.1:{admin}",
        "CADDY_UPSTREAMS": upstreams,
        **env,
    }
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            ["caddy", "run", "--config", str(ROOT / "Caddyfile"), "--adapter", "caddyfile"],
            env=environment, stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if httpx.get(f"{url}/live", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"caddy did not start:\n{log_path.read_text()}")
                time.sleep(0.1)
            yield Caddy(url, log_path)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def app_settings(db: DbInfo, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "rate_limits": "web_anon=1000/minute",
        "trusted_proxies": ("127.0.0.1",),  # Caddy connects from here
    }
    values.update(overrides)
    return hardening.settings(db, **values)


@pytest.fixture(scope="module")
def proxied(hardening_db: DbInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Caddy]:
    workdir = tmp_path_factory.mktemp("caddy")
    with running_app(app_settings(hardening_db)) as app_url:
        upstream = app_url.removeprefix("http://")
        with caddy_in_front(upstream, workdir, CADDY_MAX_BODY="2KiB") as caddy:
            yield caddy


def test_the_caddyfile_adapts() -> None:
    result = subprocess.run(
        ["caddy", "adapt", "--config", str(ROOT / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    servers = config["apps"]["http"]["servers"]
    assert {tuple(s["listen"]) for s in servers.values()} == {(":80",), (":8080",)}
    text = json.dumps(config)
    assert '"uri": "/ready"' in text
    assert '"dial": "api-1:3000"' in text and '"dial": "api-2:3000"' in text
    assert '"max_size": 16777216' in text


def test_proxying_works(proxied: Caddy) -> None:
    response = httpx.get(f"{proxied.url}/rpc/hardening_rows")
    assert response.status_code == 200, response.text
    assert response.json() == [
        {"id": 1, "name": "a"},
        {"id": 2, "name": "b"},
        {"id": 3, "name": "c"},
    ]
    assert response.headers["ratelimit-limit"] == "1000"
    error = httpx.get(f"{proxied.url}/rpc/nope")
    assert error.status_code == 404
    assert error.json()["code"] == "PGRST202"


@pytest.mark.parametrize("path", ["/metrics", "/metrics/", "/METRICS", "/metrics?x=1"])
def test_metrics_is_not_public(proxied: Caddy, path: str) -> None:
    response = httpx.get(f"{proxied.url}{path}")
    assert response.status_code == 404
    assert response.json()["code"] == "PGRST125"
    assert "metrics_rpc" not in response.text


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
def test_responses_are_compressed_when_asked(proxied: Caddy, encoding: str) -> None:
    params = {"p_text": "compress me " * 200}
    with httpx.Client() as client:
        request = client.build_request(
            "GET", f"{proxied.url}/rpc/hardening_echo", params=params,
            headers={"Accept-Encoding": encoding},
        )  # fmt: skip
        response = client.send(request, stream=True)
        raw = b"".join(response.iter_raw())
        response.close()
    assert response.headers["content-encoding"] == encoding
    assert len(raw) < 1000
    plain = httpx.get(f"{proxied.url}/rpc/hardening_echo", params=params,
                      headers={"Accept-Encoding": "identity"})  # fmt: skip
    assert "content-encoding" not in plain.headers
    assert plain.json()["text"] == params["p_text"]


def test_security_headers(proxied: Caddy) -> None:
    for path in ("/rpc/hardening_rows", "/live", "/rpc/nope"):
        response = httpx.get(f"{proxied.url}{path}")
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (path, name)
        assert "strict-transport-security" in response.headers
        assert "server" not in response.headers


def test_the_app_sees_the_real_client_ip(proxied: Caddy) -> None:
    """A client's own X-Forwarded-For is replaced by Caddy: the app sees the real peer."""
    response = httpx.get(
        f"{proxied.url}/rpc/hardening_echo", headers={"X-Forwarded-For": "6.6.6.6"}
    )
    headers = response.json()["headers"]
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"


def test_body_limit(proxied: Caddy) -> None:
    response = httpx.post(f"{proxied.url}/rpc/hardening_echo", json={"p_text": "x" * 4096})
    assert response.status_code == 413
    assert response.json()["code"] == "MRPC413"
    fine = httpx.post(f"{proxied.url}/rpc/hardening_echo", json={"p_text": "x" * 1024})
    assert fine.status_code == 200, fine.text


def test_json_access_log(proxied: Caddy) -> None:
    httpx.get(f"{proxied.url}/rpc/hardening_rows", headers={"Authorization": "Bearer secret"})
    deadline = time.monotonic() + 5
    while True:
        entries = [e for e in proxied.access_log() if e["request"]["uri"] == "/rpc/hardening_rows"]
        if entries or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert entries
    entry = entries[-1]
    assert entry["request"]["remote_ip"] == "127.0.0.1"
    assert "status" in entry and "duration" in entry
    assert "secret" not in json.dumps(entry), "credentials are redacted"


def test_rate_limit_per_real_client_behind_caddy(hardening_db: DbInfo, tmp_path: Path) -> None:
    """Forged X-Forwarded-For values do not give a client fresh budgets through Caddy."""
    settings = app_settings(hardening_db, rate_limits="web_anon=3/minute")
    with (
        running_app(settings) as app_url,
        caddy_in_front(app_url.removeprefix("http://"), tmp_path) as caddy,
    ):
        statuses = [
            httpx.get(
                f"{caddy.url}/rpc/hardening_rows", headers={"X-Forwarded-For": f"10.9.9.{i}"}
            ).status_code
            for i in range(4)
        ]
    assert statuses == [200, 200, 200, 429]


def test_a_dead_replica_is_skipped(hardening_db: DbInfo, tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    with running_app(app_settings(hardening_db)) as app_url:
        upstreams = f"{dead} {app_url.removeprefix('http://')}"
        with caddy_in_front(upstreams, tmp_path) as caddy:
            statuses = [httpx.get(f"{caddy.url}/rpc/hardening_rows").status_code for _ in range(6)]
    assert statuses == [200] * 6
