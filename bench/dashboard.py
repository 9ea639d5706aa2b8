"""The dashboard in Debian's chromium (Playwright) on the demo data: first render, bytes
transferred on a first load, and API requests per refresh of each view.

    python -m bench.dashboard              # 5 cold loads
    python -m bench.dashboard --loads 10

Figures:
- first render of the tokenomics view (navigation start → first chart drawn, cold cache,
  new browser context per load), median of ``--loads``; reference in the same run: the
  same view's six API calls fetched by the same browser in parallel with no rendering,
  so the ratio is what the page itself adds on top of its data;
- bytes transferred for that first load (every request: page, scripts, styles, API
  answers; bodies as sent, headers not counted): as the app serves it (static files
  gzipped, API answers not compressed) and with the API answers gzipped too, as behind
  the Caddyfile's ``encode`` (goal < 300 KB);
- API requests per refresh of every view (``window.dashboard.stats``), against the
  default anonymous limit of 60 per minute with a refresh every 60 s.

The API runs under uvicorn on the benchmark cluster (``.data/bench/pg``), database
``bench_dashboard_demo`` with ``sql/demo`` loaded afresh each run.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import statistics
from typing import Any

from playwright.sync_api import Browser, Response, sync_playwright

from api.demo import load_demo
from bench import harness

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWS = ("tokenomics", "network", "validators", "jupyterhub", "admin")
DB = "bench_dashboard_demo"
GOAL_BYTES = 300 * 1024

# The tokenomics view's API calls (7 days, 15-minute buckets), for the reference timing.
REFERENCE_FETCH = """async () => {
  const iv = 900, from = new Date(Math.floor((Date.now() / 1000 - 7 * 86400) / iv) * iv * 1000);
  const range = `p_schema=mainnet&p_interval=15+minutes&p_from=${from.toISOString()}`;
  const urls = ['/rpc/get_all_latest_token_metrics?p_schema=mainnet',
                '/rpc/get_latest_burned_supply?p_schema=mainnet',
                ...['circulating_supply', 'fdv', 'market_cap', 'burned_supply']
                   .map(f => `/rpc/get_agg_${f}?${range}`)];
  const began = performance.now();
  await Promise.all(urls.map(u => fetch(u, {cache: 'no-store'}).then(r => r.json())));
  return performance.now() - began;
}"""


def _first_load(browser: Browser, base: str) -> dict[str, Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    responses: list[Response] = []
    page.on("response", lambda response: responses.append(response))
    page.goto(f"{base}/dashboard?view=tokenomics&network=mainnet&range=7d")
    page.wait_for_selector("body[data-refreshed]", state="attached", timeout=60000)
    first_render = float(page.evaluate("window.dashboard.stats.firstRenderMs"))
    wire = api_gzipped = 0
    api_requests = 0
    first_load = list(responses)  # before the reference fetches below add theirs
    for response in first_load:
        body_size = response.request.sizes()["responseBodySize"]
        wire += body_size
        if "/rpc/" in response.url:
            api_requests += 1
            api_gzipped += len(gzip.compress(response.body(), 6))
        else:
            api_gzipped += body_size
    reference = float(page.evaluate(REFERENCE_FETCH))
    ctx.close()
    return {"first_render_ms": first_render, "reference_ms": reference, "bytes": wire,
            "bytes_api_gzipped": api_gzipped, "requests": len(first_load),
            "api_requests": api_requests}


def _requests_per_refresh(browser: Browser, base: str) -> dict[str, int]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.goto(f"{base}/dashboard?view=tokenomics")
    page.wait_for_selector("body[data-refreshed]", state="attached", timeout=60000)
    counts = {}
    for view in VIEWS:
        if view != "tokenomics":
            before = page.get_attribute("body", "data-refreshed")
            page.click(f'#tabs button[data-view="{view}"]')
            page.wait_for_selector(f'body:not([data-refreshed="{before}"])', state="attached")
        before = page.get_attribute("body", "data-refreshed")
        page.evaluate("window.dashboard.refresh()")  # a refresh as the timer would do it
        page.wait_for_selector(f'body:not([data-refreshed="{before}"])', state="attached")
        counts[view] = int(page.evaluate("window.dashboard.stats.lastRefresh.requests"))
        errors = int(page.evaluate("window.dashboard.stats.lastRefresh.errors"))
        if errors:
            harness.problem(f"{view}: {errors} failed request(s) in a refresh")
    ctx.close()
    return counts


def run(loads: int = 5) -> dict[str, Any]:
    harness.heading("dashboard (chromium, demo data)")
    cluster = harness.bench_cluster()
    dsn = harness.ensure_database(cluster, DB, fresh=True)
    asyncio.run(load_demo(dsn, echo=lambda _line: None))
    env = harness.api_env(cluster, DB, PGRST_DB_SCHEMAS="api")
    with harness.running("api", "uvicorn", env, ready_path="/ready") as (_proc, base), \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            _first_load(browser, base)  # warm the server and the OS caches once
            samples = [_first_load(browser, base) for _ in range(loads)]
            per_refresh = _requests_per_refresh(browser, base)
        finally:
            browser.close()
    render = statistics.median(s["first_render_ms"] for s in samples)
    reference = statistics.median(s["reference_ms"] for s in samples)
    first = samples[-1]
    print(f"first render, tokenomics (median of {loads} cold loads): {render:7.0f} ms")
    print(f"  its 6 API calls alone, same browser (reference):     {reference:7.0f} ms"
          f"  → page/data {harness.ratio(render, reference)}")
    print(f"first load: {first['requests']} requests ({first['api_requests']} to /rpc), "
          f"{first['bytes'] / 1024:.0f} KB as the app sends it, "
          f"{first['bytes_api_gzipped'] / 1024:.0f} KB with API answers gzipped (behind Caddy); "
          f"goal < {GOAL_BYTES // 1024} KB: {harness.ratio(first['bytes_api_gzipped'], GOAL_BYTES)}"
          " of it")
    busiest = max(per_refresh.values())
    print("API requests per refresh: " + ", ".join(f"{v} {n}" for v, n in per_refresh.items())
          + f"; busiest view {busiest}/min at one refresh a minute = "
          f"{harness.ratio(busiest, 60)} of the anonymous limit (60/minute)")
    if first["bytes_api_gzipped"] >= GOAL_BYTES:
        print("  (over the goal)")
    result = {"loads": loads, "first_render_ms": render, "reference_ms": reference,
              "first_load": first, "requests_per_refresh": per_refresh}
    harness.save_result("dashboard", result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=5, help="cold loads to take the median of")
    args = parser.parse_args(argv)
    run(args.loads)
    return harness.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
