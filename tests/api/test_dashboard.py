"""The dashboard's routes over HTTP (api/dashboard): the page and its files from the
package, content negotiation at ``/``, caching headers, and nothing from elsewhere.
The page itself is tested in a browser in ``test_dashboard_browser.py``."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import httpx
import pytest

from api.dashboard import CONTENT_SECURITY_POLICY, STATIC, load_assets, prefers_html
from tests.api.apiserver import ApiServer, running_app
from tests.api.test_caddy import app_settings as caddy_app_settings
from tests.api.test_caddy import caddy_in_front
from tests.pgfixtures import DbInfo

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


@pytest.mark.parametrize(("accept", "html"), [
    (BROWSER_ACCEPT, True),
    ("text/html", True),
    ("", False),
    ("*/*", False),
    ("application/json", False),
    ("application/openapi+json", False),
    ("application/json, text/html;q=0.5", False),
    ("text/html;q=0.9, application/json;q=0.5", True),
    ("text/html;q=0", False),
    ("text/html;q=bogus", False),
])
def test_prefers_html(accept: str, html: bool) -> None:
    assert prefers_html(accept) is html


def test_root_gives_browsers_the_dashboard_and_clients_the_openapi_document(
    api_server: ApiServer,
) -> None:
    with api_server.client() as client:
        page = client.get("/", headers={"Accept": BROWSER_ACCEPT})
        api = client.get("/")
        json_client = client.get("/", headers={"Accept": "application/json"})
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>metrics-rpc dashboard</title>" in page.text
    assert "Accept" in page.headers["vary"]
    for response in (api, json_client):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/openapi+json")
        assert "paths" in response.json()
        assert response.headers["vary"] == "Accept"


def test_dashboard_page_has_a_strict_content_security_policy(api_server: ApiServer) -> None:
    response = httpx.get(f"{api_server.base_url}/dashboard")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    assert "unsafe" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"


def test_page_references_only_its_own_files() -> None:
    html = (STATIC / "index.html").read_text()
    references = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert references, "no references found"
    for ref in references:
        assert ref.startswith(("/dashboard/static/", "/docs", "data:")), ref
    local = [ref.removeprefix("/dashboard/static/") for ref in references
             if ref.startswith("/dashboard/static/")]
    assert set(local) <= set(load_assets())
    for name, asset in load_assets().items():
        if name.endswith((".js", ".css", ".html")):
            body = asset.body.replace(b"http://www.w3.org/2000/svg", b"")  # a namespace
            body = body.replace(b"https://github.com/leeoniya/uPlot", b"")  # a comment
            assert b"http://" not in body and b"https://" not in body, name


def test_vendored_files_keep_their_licenses() -> None:
    assets = load_assets()
    assert "vendor/uPlot.LICENSE" in assets and "vendor/world-atlas.LICENSE" in assets
    uplot = assets["vendor/uPlot.iife.min.js"].body
    assert uplot.startswith(b"/*! https://github.com/leeoniya/uPlot (v1.6.32)")


def test_static_files_are_gzipped_with_an_etag_and_revalidated(api_server: ApiServer) -> None:
    url = f"{api_server.base_url}/dashboard/static/vendor/uPlot.iife.min.js"
    plain = httpx.get(url, headers={"Accept-Encoding": "identity"})
    with httpx.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as zipped:
        raw = b"".join(zipped.iter_raw())
        headers = zipped.headers
    assert plain.status_code == 200 and headers["content-encoding"] == "gzip"
    assert headers["content-type"] == "text/javascript; charset=utf-8"
    assert gzip.decompress(raw) == plain.content
    assert len(raw) < len(plain.content) / 2
    assert headers["etag"] == plain.headers["etag"]
    assert plain.headers["cache-control"] == "no-cache"
    again = httpx.get(url, headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize("path", [
    "/dashboard/static/nope.js",
    "/dashboard/static/../__init__.py",
    "/dashboard/static/%2e%2e/__init__.py",
    "/dashboard/static/vendor/../../__init__.py",
])
def test_unknown_or_escaping_static_paths_are_404(api_server: ApiServer, path: str) -> None:
    response = httpx.get(f"{api_server.base_url}{path}")
    assert response.status_code == 404
    assert "import" not in response.text


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed")
def test_caddy_keeps_the_page_policy_and_adds_its_default_elsewhere(
    hardening_db: DbInfo, tmp_path: Path
) -> None:
    with running_app(caddy_app_settings(hardening_db)) as app_url, \
            caddy_in_front(app_url.removeprefix("http://"), tmp_path) as caddy:
        page = httpx.get(f"{caddy.url}/dashboard")
        api = httpx.get(f"{caddy.url}/rpc/hardening_rows")
    assert page.status_code == 200
    assert page.headers.get_list("content-security-policy") == [CONTENT_SECURITY_POLICY]
    assert api.headers["content-security-policy"] == "frame-ancestors 'none'"
