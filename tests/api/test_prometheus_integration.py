"""A real Prometheus (the Debian package) scrapes a tiny exporter served by this test and
remote-writes to the app; the samples must show up through ``/rpc`` with the right schema
routing, within a bounded time.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.config import Settings
from api.pgcluster import free_port
from tests.api import httpstub
from tests.api.apiserver import ApiServer, serving

PROMETHEUS = shutil.which("prometheus")
SUPPLY = "98765432109876543210987654321.000000001"
DEADLINE_SECONDS = 90

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(PROMETHEUS is None, reason="the prometheus binary is not installed"),
]

EXPOSITION = f"""\
# TYPE manifest_tokenomics_total_supply gauge
manifest_tokenomics_total_supply{{manifest_tier="mainnet",supply="{SUPPLY}"}} 1
# TYPE talib_mfx_power_conversion gauge
talib_mfx_power_conversion 0.25
# TYPE web_requests counter
web_requests 42
# TYPE manifest_geo_latitude gauge
manifest_geo_latitude 45.5
""".encode()


class Exporter(httpstub.QuietHandler):
    """``GET /metrics`` in the Prometheus text format."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(EXPOSITION)))
        self.end_headers()
        self.wfile.write(EXPOSITION)


@pytest.fixture
def api(make_db) -> Iterator[ApiServer]:
    database = make_db("prom")
    settings = Settings(db_uri=database.authenticator_dsn,
                        jwt_secret="prometheus-integration-secret-0123456789")
    try:
        with serving(settings, db=database) as server:
            yield server
    finally:
        database.drop()


@pytest.fixture
def prometheus(api: ApiServer, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with httpstub.serving(Exporter) as exporter:
        token_file = tmp_path / "token"
        token_file.write_text(api.token("writer"))
        config = tmp_path / "prometheus.yml"
        config.write_text(f"""\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: exporter
    static_configs:
      - targets: ["{httpstub.address(exporter)}"]
remote_write:
  - url: {api.base_url}/api/v1/write
    authorization:
      type: Bearer
      credentials_file: {token_file}
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 100ms
      max_backoff: 1s
""")
        log = (tmp_path / "prometheus.log").open("wb")
        process = subprocess.Popen(
            [str(PROMETHEUS), f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{free_port()}", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            log.close()


def _latest(api: ApiServer, name: str, schema: str) -> list[Any]:
    now = datetime.now(UTC)
    response = httpx.get(f"{api.base_url}/rpc/get_agg_metric", params={
        "p_metric_name": name, "p_schema": schema, "p_interval": "1 day",
        "p_from": (now - timedelta(days=1)).isoformat(),
        "p_to": (now + timedelta(hours=1)).isoformat(),
    }, timeout=10)
    assert response.status_code == 200, response.text
    rows: list[Any] = response.json()
    return rows


def test_prometheus_remote_writes_into_the_right_schemas(api, prometheus, tmp_path):
    expected = {
        ("manifest_tokenomics_total_supply", "mainnet"): SUPPLY,
        ("talib_mfx_power_conversion", "common"): "0.25",
        ("manifest_geo_latitude", "geo"): "45.5",
        ("up", "common"): "1",
    }
    deadline = time.monotonic() + DEADLINE_SECONDS
    seen: dict[tuple[str, str], list[Any]] = {}
    while time.monotonic() < deadline:
        assert prometheus.poll() is None, (tmp_path / "prometheus.log").read_text()
        seen = {key: _latest(api, *key) for key in [*expected, ("web_requests", "cumsum")]}
        if all(seen.values()):
            break
        time.sleep(1)
    missing = [key for key, rows in seen.items() if not rows]
    assert not missing, f"not written within {DEADLINE_SECONDS}s: {missing}\n" + (
        tmp_path / "prometheus.log").read_text()
    for key, value in expected.items():
        assert seen[key][0]["value"] == value, key
    # routed only where the table says: the supply is not in common, the counter only in cumsum
    assert _latest(api, "manifest_tokenomics_total_supply", "common") == []
    assert _latest(api, "web_requests", "common") == []
    metrics = httpx.get(f"{api.base_url}/metrics").text
    assert 'metrics_rpc_ingest_requests_total{protocol="1.0",status="204"}' in metrics
