"""The goals at a glance: every performance goal next to its figure from one run.

    python -m bench.goals                      # from the latest result of each benchmark
    python -m bench.goals --since 2026-11-30T17:00:00+0000

``make bench`` (``bench.run_all``) prints this table at its end, from the results of that
very run, and writes it to ``bench/results/goals.md`` so docs/PERFORMANCE.md can quote it.
Each row reads the record a benchmark appended to ``bench/results/<benchmark>.jsonl``; a
goal whose benchmark did not run (or ran before ``--since``) says "not measured". "Before"
is the figure the goal was set against (issues #14, #15 and #16), for comparison; the
ratios of one run are what to read on a shared machine, not absolute numbers.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import harness

Record = Mapping[str, Any]
Results = Mapping[str, Record]

TOKENOMICS = ("get_agg_circulating_supply", "get_agg_fdv", "get_agg_market_cap",
              "get_agg_burned_supply")
SESSIONS = ("get_runtime_by_user", "get_active_users", "get_node_usage", "get_image_usage")
SERVER = "uvicorn"


@dataclass(frozen=True)
class Figure:
    """What one run measured for a goal, and whether that meets it (None: no rule)."""

    text: str
    met: bool | None


@dataclass(frozen=True)
class Goal:
    name: str
    target: str
    before: str
    command: str
    measure: Callable[[Results], Figure | None]


def _dig(record: Record | None, *path: str) -> Any:
    value: Any = record
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _ratio_goal(bench: str, path: tuple[str, ...], *, at_least: float | None = None,
                at_most: float | None = None, unit: str = "x",
                others: Iterable[tuple[str, tuple[str, ...]]] = ()) -> Callable[[Results],
                                                                                Figure | None]:
    """A figure at ``path`` of ``bench``'s record held against a bound; ``others`` are
    printed next to it (label, path) without deciding the goal."""
    def measure(results: Results) -> Figure | None:
        value = _number(_dig(results.get(bench), *path))
        if value is None:
            return None
        met = None if at_least is None and at_most is None else (
            (at_least is None or value >= at_least) and (at_most is None or value <= at_most))
        extra = []
        for label, other in others:
            figure = _number(_dig(results.get(bench), *other))
            if figure is not None:
                extra.append(f"{label} {figure:.2f}{unit}")
        text = f"{value:.2f}{unit}" + (f" ({', '.join(extra)})" if extra else "")
        return Figure(text, met)
    return measure


def _throughput(ratio: str, auth: str = "anon") -> tuple[str, ...]:
    return ("ratios", f"{SERVER}/{ratio.split('/')[0]}/{auth}/{ratio.split('/')[1]}")


def _large_results(results: Results) -> Figure | None:
    timed = _dig(results.get("large_results"), "timed")
    if not isinstance(timed, Mapping) or not timed:
        return None
    parts, worst = [], 0.0
    for label, figures in timed.items():
        value = _number(_dig(figures, "api_over_psql"))
        if value is not None:
            worst = max(worst, value)
            parts.append(f"{label}: {value:.2f}x")
    return Figure("; ".join(parts), worst <= 1.2) if parts else None


def _rss_growth(results: Results) -> Figure | None:
    rss = _dig(results.get("large_results"), "rss")
    if not isinstance(rss, Mapping) or not rss:
        return None
    label, figures = max(rss.items(), key=lambda item: item[1].get("bytes", 0))
    growth, size = _number(figures.get("growth")), _number(figures.get("bytes"))
    if growth is None or size is None:
        return None
    return Figure(f"+{growth / 2**20:.1f} MiB for a {size / 1e6:.1f} MB body ({label})",
                  growth < 16 * 2**20)


def _function_times(names: Iterable[str], limit_ms: float) -> Callable[[Results],
                                                                       Figure | None]:
    wanted = tuple(names)

    def measure(results: Results) -> Figure | None:
        rows = _dig(results.get("functions"), "results")
        if not isinstance(rows, list):
            return None
        times = {r["function"]: r["median_ms"] for r in rows
                 if r.get("range") == "year" and r.get("function") in wanted}
        if not times:
            return None
        text = ", ".join(f"{name.removeprefix('get_')} {ms:.1f}" for name, ms in times.items())
        return Figure(f"{text} ms (slowest {max(times.values()):.1f})",
                      max(times.values()) < limit_ms)
    return measure


def _ingest(phase: str, *, rule: float = 100_000) -> Callable[[Results], Figure | None]:
    def measure(results: Results) -> Figure | None:
        rate = _number(_dig(results.get("ingest"), phase, "samples_per_s"))
        if rate is None:
            return None
        return Figure(f"{rate:,.0f} samples/s", rate >= rule)
    return measure


def _hot_cache(results: Results) -> Figure | None:
    ratios = _dig(results.get("response_cache"), "ratios")
    if not isinstance(ratios, Mapping) or "hot_cached_over_minimal_rps" not in ratios:
        return None
    rps = float(ratios["hot_cached_over_minimal_rps"])
    hot, ref = float(ratios["hot_cached_p99_ms"]), float(ratios["minimal_p99_ms"])
    return Figure(f"{rps:.2f}x, p99 {hot:.1f} vs {ref:.1f} ms", rps >= 3 and hot < ref)


def _invalidation(results: Results) -> Figure | None:
    figures = _dig(results.get("response_cache"), "invalidation")
    if not isinstance(figures, Mapping) or "writes" not in figures:
        return None
    return Figure(f"{figures['first_get_saw_it']}/{figures['writes']} first GETs saw the "
                  f"write; 204 → visible p50 {float(figures['ms_204_to_visible_p50']):.1f} ms",
                  figures["first_get_saw_it"] == figures["writes"])


def _limiter_profile(results: Results) -> Figure | None:
    rows = _dig(results.get("profile_api"), "results")
    if not isinstance(rows, list):
        return None
    on = next((r for r in rows if r.get("label") == "limiter_on"), None)
    if on is None:
        return None
    share, pool = _number(on.get("limiter_share")), _number(on.get("thread_pool_share"))
    if share is None or pool is None:
        return None
    return Figure(f"{share * 100:.1f} % of samples in the limiter, {pool * 100:.1f} % in "
                  "thread pools", None)


def _dashboard(results: Results) -> Figure | None:
    size = _number(_dig(results.get("dashboard"), "first_load", "bytes_api_gzipped"))
    render = _number(_dig(results.get("dashboard"), "first_render_ms"))
    if size is None:
        return None
    text = f"{size / 1024:.0f} KB" + (f", first render {render:.0f} ms" if render else "")
    return Figure(text, size < 300 * 1024)


def _scale_out(results: Results) -> Figure | None:
    figures = _dig(results.get("scale_out"), "figures")
    if not isinstance(figures, Mapping) or not figures:
        return None
    return Figure(", ".join(f"{name} {float(value):.2f}" for name, value in figures.items()),
                  None)


THROUGHPUT = "python -m bench.rpc_throughput"
GOALS: tuple[Goal, ...] = (
    Goal("#14.1 small GET, rate limiter on (anonymous; JWT, limiter off)",
         "≥ 0.85 x minimal app", "0.70-0.74 x", THROUGHPUT,
         _ratio_goal("rpc_throughput", _throughput("small/api_minimal"), at_least=0.85,
                     others=(("JWT", _throughput("small/api_minimal", "jwt")),
                             ("limiter off", _throughput("small/api-limiter-off_minimal"))))),
    Goal("#14.1 where the limiter's time goes (py-spy under wrk)", "flame graphs in §1",
         "9.9 % in the limiter, 8.6 % in thread pools", "python -m bench.profile_api",
         _limiter_profile),
    Goal("#14.2 small GET p99 at 32 connections (anonymous; JWT)",
         "≤ 1.1 x minimal app's p99", "1.69-2.38 x", THROUGHPUT,
         _ratio_goal("rpc_throughput", _throughput("small/p99_api_minimal"), at_most=1.1,
                     others=(("JWT", _throughput("small/p99_api_minimal", "jwt")),))),
    Goal("#14.3 mid call, 169 rows (anonymous; JWT)", "≥ 0.95 x minimal app", "0.84 x",
         THROUGHPUT,
         _ratio_goal("rpc_throughput", _throughput("mid/api_minimal"), at_least=0.95,
                     others=(("JWT", _throughput("mid/api_minimal", "jwt")),))),
    Goal("#14.4 large results, API p50 over psql", "≤ 1.2 x psql", "1.31 x and 1.89 x",
         "python -m bench.large_results", _large_results),
    Goal("#14.3/4 API memory while streaming the largest result", "flat (< 16 MiB growth)",
         "+1.8 MiB for 31.5 MB", "python -m bench.large_results", _rss_growth),
    Goal("#14.5 year-long session queries", "< 50 ms", "82-150 ms", "python -m bench.functions",
         _function_times(SESSIONS, 50)),
    Goal("#14.5 get_agg_cumsum_metric over a year", "< 10 ms", "54 ms",
         "python -m bench.functions", _function_times(("get_agg_cumsum_metric",), 10)),
    Goal("#14.6 high-churn backfill ingest", "≥ 100,000 samples/s", "26,000 samples/s",
         "python -m bench.ingest", _ingest("backfill_high_churn")),
    Goal("#14.7 ingest, new data", "≥ 100,000 samples/s", "107,000 samples/s",
         "python -m bench.ingest", _ingest("new")),
    Goal("#14.7 tokenomics functions over a year", "< 50 ms", "5.6-7.8 ms",
         "python -m bench.functions", _function_times(TOKENOMICS, 50)),
    Goal("#16 hot cached GET vs the minimal app", "≥ 3 x req/s, lower p99", "-",
         "python -m bench.response_cache", _hot_cache),
    Goal("#16 conditional GET, 304 over full 200 (req/s)", "no goal (figure)", "-",
         "python -m bench.response_cache",
         _ratio_goal("response_cache", ("ratios", "not_modified_over_full_rps"))),
    Goal("#16 invalidation: remote write 204 → GET on another replica", "every first GET "
         "sees it", "-", "python -m bench.response_cache", _invalidation),
    Goal("#16 cache overhead on mostly-miss traffic (on / off)", "≥ 0.95 x", "-",
         "python -m bench.response_cache",
         _ratio_goal("response_cache", ("ratios", "mostly_miss_on_over_off_rps"),
                     at_least=0.95)),
    Goal("#15 dashboard first load, transferred behind Caddy", "< 300 KB", "-",
         "python -m bench.dashboard", _dashboard),
    Goal("#17 scale-out, req/s over one worker on the primary", "no goal (figures)", "-",
         "python -m bench.scale_out", _scale_out),
)


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")


def latest_results(since: datetime | None = None,
                   results_dir: Path = harness.RESULTS_DIR) -> dict[str, Record]:
    """The last record of every ``bench/results/*.jsonl``, if written at or after ``since``."""
    out: dict[str, Record] = {}
    for path in sorted(results_dir.glob("*.jsonl")):
        lines = path.read_text().splitlines()
        if not lines:
            continue
        record = json.loads(lines[-1])
        if since is not None and _parse_time(record["time"]) < since:
            continue
        out[path.stem] = record
    return out


def table(results: Results) -> str:
    """The goals at a glance as a Markdown table."""
    rows = ["| goal | target | before | this run | met | command |",
            "|---|---|---|---|---|---|"]
    for goal in GOALS:
        figure = goal.measure(results)
        text, met = ("not measured", "-") if figure is None else (
            figure.text, {True: "yes", False: "**no**", None: "-"}[figure.met])
        rows.append(f"| {goal.name} | {goal.target} | {goal.before} | {text} | {met} | "
                    f"`{goal.command}` |")
    invalid = sorted(name for name, record in results.items() if not record.get("valid", True))
    if invalid:
        rows.append("")
        rows.append("Runs marked invalid (failed requests or wrong data): " + ", ".join(invalid))
    return "\n".join(rows) + "\n"


def report(since: datetime | None = None) -> str:
    """Print the table of the results since ``since`` and write it to results/goals.md."""
    results = latest_results(since)
    text = table(results)
    machines = sorted({str(r.get("machine", "")) for r in results.values()} - {""})
    header = f"Goals at a glance ({len(results)} benchmark results"
    header += f" since {since:%Y-%m-%d %H:%M %Z})" if since else ")"
    harness.heading(header)
    print(text, flush=True)
    harness.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = harness.RESULTS_DIR / "goals.md"
    path.write_text(f"{header}\n\n{text}\n" + "".join(f"- machine: {m}\n" for m in machines))
    print(f"saved to {path.relative_to(harness.REPO)}")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the performance goals at a glance")
    parser.add_argument("--since", type=_parse_time,
                        help="only results written since (e.g. 2026-11-30T17:00:00+0000)")
    args = parser.parse_args(argv)
    report(args.since)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
