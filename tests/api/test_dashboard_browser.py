"""The dashboard in a real browser: Debian's chromium driven by Playwright, against the
real app on a database with the demo data (``sql/demo``), as ``make run`` serves it.

Every view must load with data drawn, without console errors or failed requests, and
without talking to any host but its own. Screenshots of each view are saved under
``.data/dashboard/`` for a person to look at.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, sync_playwright

from api.demo import load_demo
from tests.api.apiserver import ApiServer, running_api_server
from tests.pgfixtures import ROOT, DbInfo

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / ".data" / "dashboard"
VIEWS = ["tokenomics", "network", "validators", "jupyterhub", "admin"]
DEFAULT_LIMITS = "web_anon=60/minute;writer=600/minute"


@pytest.fixture(scope="module")
def demo_db(make_db: Any) -> Iterator[DbInfo]:
    db: DbInfo = make_db("dashboard")
    asyncio.run(load_demo(db.dsn, echo=lambda _line: None))
    yield db
    db.drop()


@pytest.fixture(scope="module")
def demo_api(demo_db: DbInfo) -> Iterator[ApiServer]:
    with running_api_server(demo_db, db_schemas=("api",)) as server:
        yield server


@pytest.fixture(scope="module")
def browser(demo_db: DbInfo) -> Iterator[Browser]:
    # After the database set-up: Playwright's sync API keeps an event loop running in this
    # thread, where asyncio.run (migrate, load_demo) can no longer be called.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Tab:
    """A page with everything it did recorded: console errors, failed requests, URLs."""

    page: Page
    base_url: str
    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    statuses: list[tuple[str, int]] = field(default_factory=list)

    def open(self, query: str) -> None:
        self.page.goto(f"{self.base_url}/dashboard?{query}")
        self.wait_refreshed(None)

    def refreshes(self) -> str | None:
        return self.page.get_attribute("body", "data-refreshed")

    def wait_refreshed(self, before: str | None) -> None:
        """Until a refresh newer than ``before`` (a data-refreshed value) has finished."""
        selector = ("body[data-refreshed]" if before is None
                    else f'body:not([data-refreshed="{before}"])')
        self.page.wait_for_selector(selector, state="attached", timeout=30000)

    def js(self, expression: str) -> Any:
        return self.page.evaluate(expression)

    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.page.url).query)

    def each(self, selector: str, function: str) -> list[Any]:
        """``function`` (JS, of one element) applied to every element ``selector`` finds."""
        return list(self.js(f"[...document.querySelectorAll({selector!r})].map({function})"))

    def rpc_requests(self) -> list[str]:
        return [url for url in self.requests if urlsplit(url).path.startswith("/rpc/")]

    def panel_states(self, view: str) -> dict[str, str]:
        return dict(self.js(f"""[...document.querySelectorAll('#view-{view} .panel[data-state]')]
                               .map(p => [p.id, p.dataset.state])"""))

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def tab(browser: Browser, demo_api: ApiServer) -> Iterator[Tab]:
    yield from _tab(browser, demo_api.base_url)


def _tab(browser: Browser, base_url: str, **context: Any) -> Iterator[Tab]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, **context)
    page = ctx.new_page()
    recorded = Tab(page, base_url)
    page.on("console", lambda m: _console(recorded, m))
    page.on("pageerror", lambda e: recorded.console_errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: recorded.failed.append(f"{r.url}: {r.failure}"))
    page.on("request", lambda r: recorded.requests.append(r.url))
    page.on("response", lambda r: recorded.statuses.append((r.url, r.status)))
    yield recorded
    ctx.close()


def _console(tab: Tab, message: ConsoleMessage) -> None:
    if message.type == "error":
        tab.console_errors.append(message.text)


def _assert_clean(tab: Tab) -> None:
    assert tab.console_errors == []
    assert tab.failed == []
    own = urlsplit(tab.base_url).netloc
    assert {urlsplit(url).netloc for url in tab.requests if not url.startswith("data:")} == {own}
    assert [(u, s) for u, s in tab.statuses if s >= 400] == []


def _chart_points(tab: Tab, prefix: str) -> dict[str, int]:
    """Points with a finite value per uPlot chart whose id starts with ``prefix``."""
    return dict(tab.js(f"""Object.entries(window.dashboard.charts)
        .filter(([id]) => id.startsWith({prefix!r}))
        .map(([id, u]) => [id, u.data.slice(1).flat().filter(Number.isFinite).length])"""))


def _stroke_pixels(tab: Tab, chart_id: str) -> int:
    """Pixels of a chart's canvas painted in its first series' stroke colour."""
    return int(tab.js(f"""(() => {{
        const u = window.dashboard.charts[{chart_id!r}];
        const colour = getComputedStyle(document.documentElement).getPropertyValue('--c1').trim();
        const [r, g, b] = colour.match(/[0-9a-f]{{2}}/gi).slice(0, 3).map(h => parseInt(h, 16));
        const px = u.ctx.getImageData(0, 0, u.ctx.canvas.width, u.ctx.canvas.height).data;
        let n = 0;
        for (let i = 0; i < px.length; i += 4)
            if (Math.abs(px[i] - r) < 8 && Math.abs(px[i + 1] - g) < 8
                && Math.abs(px[i + 2] - b) < 8 && px[i + 3] > 200) n++;
        return n;
    }})()"""))


# --- every view, with its data drawn ----------------------------------------------------------


def test_tokenomics_draws_four_charts_and_exact_headlines(tab: Tab) -> None:
    tab.open("view=tokenomics&network=mainnet&range=7d")
    assert set(tab.panel_states("tokenomics").values()) == {"ok"}
    points = _chart_points(tab, "tokenomics-")
    assert sorted(points) == ["tokenomics-burned", "tokenomics-circulating", "tokenomics-fdv",
                              "tokenomics-market_cap"]
    assert all(n > 100 for n in points.values()), points  # a week in 15-minute buckets
    assert _stroke_pixels(tab, "tokenomics-circulating") > 200
    figures = tab.js("""[...document.querySelectorAll('.figure')].map(b =>
        [b.dataset.metric, b.dataset.exact, b.title, b.querySelector('.value').textContent])""")
    assert [f[0] for f in figures] == ["circulating_supply", "fdv", "market_cap", "burned"]
    for _metric, exact, title, shown in figures:
        assert len(exact.split(".")[0]) >= 20, exact  # every digit from the API …
        assert exact[:3] in title.replace(",", "")  # … on hover, grouped
        assert shown.endswith(" Qi") and len(shown) < 10  # rounded for humans
    tab.screenshot("tokenomics")
    _assert_clean(tab)


def test_network_metrics_table_with_a_sparkline_per_metric(tab: Tab) -> None:
    tab.open("view=network&network=mainnet&range=7d")
    assert set(tab.panel_states("network").values()) == {"ok"}
    rows = {group: tab.each(f"#panel-latest-{group} tbody tr", "r => r.cells[0].textContent")
            for group in ("network", "common", "cumsum")}
    assert "block_height" in rows["network"] and "validators" in rows["network"]
    assert "talib_mfx_power_conversion" in rows["common"]
    assert "web_requests" in rows["cumsum"] and len(rows["cumsum"]) == 6
    points = _chart_points(tab, "spark-")
    for group, names in rows.items():
        for name in names:
            assert points.get(f"spark-{group}-{name}", 0) > 10, (group, name)
    # the cumulative counters only grow over the range
    web = tab.js("window.dashboard.charts['spark-cumsum-web_requests'].data[1]")
    assert web == sorted(web) and web[-1] > web[0]
    tab.screenshot("network")
    _assert_clean(tab)


def test_validators_as_points_on_the_world_outline(tab: Tab, demo_db: DbInfo) -> None:
    tab.open("view=validators")
    assert set(tab.panel_states("validators").values()) == {"ok"}
    expected = int(demo_db.psql("select count(*) from api.get_latest_geo_coordinates()"))
    assert tab.js("document.querySelectorAll('#panel-map circle').length") == expected == 20
    assert tab.js("document.querySelector('#panel-map path.land').getAttribute('d').length") > 10000
    tokyo = tab.js("""[...document.querySelectorAll('#panel-map circle')]
        .find(c => c.textContent.startsWith('Tokyo')).getAttribute('cx')""")
    assert abs(float(tokyo) - (139.6503 + 180) * 10) < 1
    cities = tab.each("#panel-locations tbody tr", "r => r.cells[1].textContent")
    assert len(cities) == 20 and "Nairobi" in cities
    tab.screenshot("validators")
    _assert_clean(tab)


def test_jupyterhub_usage_and_one_users_sessions_on_click(tab: Tab) -> None:
    tab.open("view=jupyterhub&range=7d")
    states = tab.panel_states("jupyterhub")
    assert states.pop("panel-sessions") == "empty"  # until a user is clicked
    assert set(states.values()) == {"ok"}
    bars = tab.js("""[...document.querySelectorAll('#panel-runtime .bar')].map(b =>
        [b.dataset.user, b.querySelector('.gpu').getBoundingClientRect().width,
         b.querySelector('.cpu').getBoundingClientRect().width])""")
    assert len(bars) == 15
    assert all(gpu + cpu > 0 for _, gpu, cpu in bars)
    assert any(gpu > 0 for _, gpu, _ in bars) and any(cpu > 0 for _, _, cpu in bars)
    points = _chart_points(tab, "jupyterhub-")
    assert sorted(points) == ["jupyterhub-active", "jupyterhub-images", "jupyterhub-nodes"]
    assert all(n > 50 for n in points.values()), points
    classes = tab.js("window.dashboard.charts['jupyterhub-nodes'].series.map(s => s.label)")[1:]
    assert classes == ["cpu", "gpu"]
    hours = tab.js("window.dashboard.charts['jupyterhub-active'].data[0]")
    assert {b - a for a, b in itertools.pairwise(hours)} == {3600}  # quiet hours are 0, not gaps
    assert len(hours) in (168, 169)

    top_user = bars[0][0]
    tab.page.click(f'#panel-runtime .bar[data-user="{top_user}"]')
    tab.page.wait_for_selector('#panel-sessions[data-state="ok"] tbody tr')
    assert tab.query()["user"] == [top_user]
    sessions = tab.js("document.querySelectorAll('#panel-sessions tbody tr').length")
    assert sessions > 0
    tab.screenshot("jupyterhub")
    _assert_clean(tab)


def test_admin_lists_the_excluded_addresses(tab: Tab) -> None:
    tab.open("view=admin")
    addresses = tab.each("#addresses tbody tr code", "c => c.textContent")
    assert "manifest1hj5fveer5cjtn4wd6wstzugjfdxzl0xp8ws9ct" in addresses
    tab.screenshot("admin")
    _assert_clean(tab)


# --- URL state ------------------------------------------------------------------------------


def test_switching_network_changes_the_url_and_the_data(tab: Tab) -> None:
    tab.open("view=tokenomics&network=mainnet&range=7d")
    tab.page.wait_for_selector('#network option[value="testnet"]', state="attached")
    assert tab.each("#network option", "o => o.value") == ["mainnet", "testnet"]  # both have data
    mainnet = tab.js("document.querySelector('.figure').dataset.exact")
    mainnet_series = tab.js("window.dashboard.charts['tokenomics-circulating'].data[1]")
    before = tab.refreshes()
    tab.page.select_option("#network", "testnet")
    tab.wait_refreshed(before)
    assert tab.query()["network"] == ["testnet"]
    testnet = tab.js("document.querySelector('.figure').dataset.exact")
    testnet_series = tab.js("window.dashboard.charts['tokenomics-circulating'].data[1]")
    assert testnet != mainnet
    assert max(testnet_series) < min(mainnet_series)  # the demo's testnet is a quarter the size
    assert any("p_schema=testnet" in url for url in tab.rpc_requests())
    before = tab.refreshes()
    tab.page.go_back()  # the URL is history: back is mainnet again
    tab.wait_refreshed(before)
    assert tab.query()["network"] == ["mainnet"]
    _assert_clean(tab)


def test_switching_range_changes_the_url_the_interval_and_the_data(tab: Tab) -> None:
    tab.open("view=tokenomics&network=mainnet&range=7d")
    week = tab.js("window.dashboard.charts['tokenomics-fdv'].data[0]")
    before = tab.refreshes()
    tab.page.select_option("#range", "24h")
    tab.wait_refreshed(before)
    assert tab.query()["range"] == ["24h"]
    day = tab.js("window.dashboard.charts['tokenomics-fdv'].data[0]")
    assert day[-1] - day[0] <= 86400 < week[-1] - week[0]
    assert any("get_agg_fdv" in url and "p_interval=1+minute" in url for url in tab.rpc_requests())
    before = tab.refreshes()
    tab.page.select_option("#interval", "1 hour")
    tab.wait_refreshed(before)
    assert tab.query()["interval"] == ["1 hour"]
    hourly = tab.js("window.dashboard.charts['tokenomics-fdv'].data[0]")
    assert {b - a for a, b in itertools.pairwise(hourly)} == {3600}
    _assert_clean(tab)


def test_custom_range_is_in_the_url(tab: Tab) -> None:
    tab.open("view=jupyterhub&range=custom&from=2000-01-03T00:00Z&to=2000-01-04T00:00Z")
    assert tab.query()["from"] == ["2000-01-03T00:00Z"]
    assert tab.page.is_visible("#from") and tab.page.input_value("#from") == "2000-01-03T00:00"
    assert tab.panel_states("jupyterhub")["panel-runtime"] == "empty"  # no demo data in 2000
    assert any("p_from=2000-01-03T00%3A00%3A00.000Z" in url and "p_to=2000-01-04" in url
               for url in tab.rpc_requests())
    _assert_clean(tab)


# --- admin --------------------------------------------------------------------------------------


def test_admin_without_a_token_explains_the_401(tab: Tab, demo_db: DbInfo) -> None:
    tab.open("view=admin")
    tab.page.fill("#address", "manifest1withouttoken")
    tab.page.click("#add-form button[type=submit]")
    message = tab.page.wait_for_selector('#admin-message[data-status="401"]')
    assert message is not None and "writer token" in message.text_content()
    assert demo_db.psql("select count(*) from metrics.excluded_addresses "
                        "where value = 'manifest1withouttoken'") == "0"


def test_admin_with_a_writer_token_adds_and_removes_an_address(
    tab: Tab, demo_api: ApiServer, demo_db: DbInfo
) -> None:
    address = "manifest1dashboardbrowsertest0000000000"
    tab.open("view=admin")
    tab.page.fill("#token", demo_api.token("writer", sub="dashboard-admin"))
    tab.page.click("#token-form button[type=submit]")
    assert tab.page.input_value("#token") == ""  # taken into memory, not left in the field
    assert tab.js("Object.keys(localStorage).length + Object.keys(sessionStorage).length") == 0
    assert "eyJ" not in tab.page.url

    tab.page.fill("#address", address)
    tab.page.click("#add-form button[type=submit]")
    tab.page.wait_for_selector(f'#addresses button[data-address="{address}"]')
    assert "Added" in (tab.page.text_content("#admin-message") or "")

    tab.page.fill("#address", address)  # again: 409, in plain words
    tab.page.click("#add-form button[type=submit]")
    message = tab.page.wait_for_selector('#admin-message[data-status="409"]')
    assert message is not None and "already in the excluded list" in message.text_content()

    tab.page.click(f'#addresses button[data-address="{address}"]')
    tab.page.wait_for_selector(f'#addresses button[data-address="{address}"]', state="detached")
    audit = demo_db.psql(
        "select string_agg(action || ':' || sub || ':' || role, ',' order by id) "
        f"from metrics.excluded_addresses_audit where value = '{address}'")
    assert audit == "add:dashboard-admin:writer,remove:dashboard-admin:writer"


def test_admin_explains_a_404_on_removing_an_address_already_gone(
    tab: Tab, demo_api: ApiServer, demo_db: DbInfo
) -> None:
    address = "manifest1removedbehindthepagesback00000"
    demo_db.psql(f"insert into metrics.excluded_addresses (value) values ('{address}')")
    tab.open("view=admin")
    tab.page.fill("#token", demo_api.token("writer", sub="dashboard-admin"))
    tab.page.click("#token-form button[type=submit]")
    demo_db.psql(f"delete from metrics.excluded_addresses where value = '{address}'")
    tab.page.click(f'#addresses button[data-address="{address}"]')
    message = tab.page.wait_for_selector('#admin-message[data-status="404"]')
    assert message is not None and "not in the excluded list" in message.text_content()


# --- live refresh ----------------------------------------------------------------------------


def test_the_open_view_refreshes_by_itself_until_paused(tab: Tab) -> None:
    tab.open("view=validators&refresh=5")
    assert tab.query()["refresh"] == ["5"]
    tab.wait_refreshed("1")  # the timer's refresh, with nothing clicked
    requests = len(tab.rpc_requests())
    assert requests >= 2 and tab.each("#panel-map circle", "c => 1").count(1) == 20
    tab.page.click("#pause")
    assert tab.page.get_attribute("#pause", "aria-pressed") == "true"
    assert tab.page.text_content("#status") == "Paused"
    tab.page.click("#pause")
    assert tab.page.text_content("#pause") == "Pause"
    _assert_clean(tab)


def test_refreshes_send_if_none_match_and_reuse_the_data_on_304(tab: Tab) -> None:
    seen: list[str | None] = []

    def with_etag(route: Route) -> None:
        seen.append(route.request.headers.get("if-none-match"))
        if len(seen) == 1:
            response = route.fetch()
            route.fulfill(response=response, headers={**response.headers, "etag": '"v1"'})
        else:
            route.fulfill(status=304, headers={"etag": '"v1"'}, body=b"")

    tab.page.route("**/rpc/get_latest_geo_coordinates", with_etag)
    tab.open("view=validators")
    before = tab.refreshes()
    tab.js("window.dashboard.refresh()")
    tab.wait_refreshed(before)
    assert seen == [None, '"v1"']
    assert tab.js("window.dashboard.stats.lastRefresh.errors") == 0  # the 304 was no error
    assert tab.panel_states("validators") == {"panel-map": "ok", "panel-locations": "ok"}
    assert len(tab.each("#panel-map circle", "c => c.getAttribute('cx')")) == 20
    assert tab.console_errors == []
    # Chromium reports a 304 fulfilled by interception as aborted, though fetch() got it
    assert all("get_latest_geo_coordinates" in failure for failure in tab.failed)


# --- outages, limits, layout ----------------------------------------------------------------------


def test_a_503_shows_the_outage_state_and_recovers(tab: Tab) -> None:
    def unavailable(route: Route) -> None:
        route.fulfill(status=503, headers={"Retry-After": "1"}, content_type="application/json",
                      body='{"code":"PGRST001","details":null,"hint":null,'
                           '"message":"Database client error. Retrying the connection."}')

    tab.page.route("**/rpc/**", unavailable)
    tab.open("view=tokenomics")
    banner = tab.page.text_content("#banner") or ""
    assert "Data temporarily unavailable, retrying" in banner
    assert tab.page.is_visible("#banner")
    states = tab.panel_states("tokenomics")
    assert set(states.values()) == {"unavailable"}
    assert tab.js("Object.keys(window.dashboard.charts).length") == 0  # no blank charts
    texts = tab.each("#view-tokenomics .state", "s => s.textContent")
    assert all(t == "Data temporarily unavailable, retrying…" for t in texts)
    assert "Traceback" not in tab.page.content()

    tab.page.unroute("**/rpc/**")  # the database is back: the next retry draws the data
    tab.page.wait_for_selector("#panel-circulating[data-state=ok]", timeout=30000)
    tab.page.wait_for_selector("#banner", state="hidden")


def test_one_tab_on_every_view_stays_within_the_anonymous_rate_limit(
    browser: Browser, demo_db: DbInfo
) -> None:
    with running_api_server(demo_db, db_schemas=("api",), rate_limits=DEFAULT_LIMITS) as server:
        for tab in _tab(browser, server.base_url):
            tab.open("view=tokenomics")
            per_view = {"tokenomics": tab.js("window.dashboard.stats.lastRefresh.requests")}
            for view in VIEWS[1:]:
                before = tab.refreshes()
                tab.page.click(f'#tabs button[data-view="{view}"]')
                tab.wait_refreshed(before)
                per_view[view] = tab.js("window.dashboard.stats.lastRefresh.requests")
            assert len(tab.rpc_requests()) < 60, per_view
            assert max(per_view.values()) <= 30, per_view  # one refresh a minute of any view fits
            _assert_clean(tab)  # in particular, no 429


def test_phone_width_in_dark_mode(browser: Browser, demo_api: ApiServer) -> None:
    for tab in _tab(browser, demo_api.base_url, color_scheme="dark"):
        tab.page.set_viewport_size({"width": 390, "height": 844})
        tab.open("view=tokenomics&range=24h")
        assert tab.js("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
        widths = tab.js("Object.values(window.dashboard.charts).map(u => u.width)")
        assert widths and all(w <= 390 for w in widths)
        background = tab.js("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(18, 21, 27)"  # the dark palette
        tab.screenshot("tokenomics-phone-dark")
        _assert_clean(tab)
