"""bench.goals: the goals-at-a-glance table is built from the benchmarks' own records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from bench import goals

THROUGHPUT = {"ratios": {
    "uvicorn/small/anon/api_minimal": 0.91, "uvicorn/small/jwt/api_minimal": 0.80,
    "uvicorn/small/anon/api-limiter-off_minimal": 0.95,
    "uvicorn/small/anon/p99_api_minimal": 1.4, "uvicorn/small/jwt/p99_api_minimal": 1.0,
    "uvicorn/mid/anon/api_minimal": 0.97, "uvicorn/mid/jwt/api_minimal": 0.99}}


def _row(text: str, name: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| {name}"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_ratio_goals_are_held_against_their_bounds() -> None:
    text = goals.table({"rpc_throughput": THROUGHPUT})
    small = _row(text, "#14.1 small GET")
    assert small[3] == "0.91x (JWT 0.80x, limiter off 0.95x)"
    assert small[4] == "yes"
    p99 = _row(text, "#14.2 small GET p99")
    assert p99[3].startswith("1.40x") and p99[4] == "**no**"
    assert _row(text, "#14.3 mid call")[4] == "yes"


def test_a_figure_without_a_goal_is_neither_met_nor_missed() -> None:
    text = goals.table({"response_cache": {"ratios": {"not_modified_over_full_rps": 0.4}}})
    assert _row(text, "#16 conditional GET")[3:5] == ["0.40x", "-"]


def test_goals_without_results_say_not_measured() -> None:
    text = goals.table({})
    for goal in goals.GOALS:
        assert _row(text, goal.name)[3:5] == ["not measured", "-"]


def test_ingest_and_functions_rows() -> None:
    results = {
        "ingest": {"new": {"samples_per_s": 120_000.0},
                   "backfill_high_churn": {"samples_per_s": 99_999.0}},
        "functions": {"results": [
            {"function": "get_runtime_by_user", "range": "year", "median_ms": 12.0},
            {"function": "get_runtime_by_user", "range": "7 days", "median_ms": 80.0},
            {"function": "get_agg_cumsum_metric", "range": "year", "median_ms": 10.0}]},
    }
    text = goals.table(results)
    assert _row(text, "#14.6 high-churn")[3:5] == ["99,999 samples/s", "**no**"]
    assert _row(text, "#14.7 ingest, new data")[3:5] == ["120,000 samples/s", "yes"]
    sessions = _row(text, "#14.5 year-long session")
    assert sessions[3] == "runtime_by_user 12.0 ms (slowest 12.0)" and sessions[4] == "yes"
    assert _row(text, "#14.5 get_agg_cumsum_metric")[4] == "**no**"  # 10 ms is not < 10 ms


def test_invalid_runs_are_named() -> None:
    text = goals.table({"ingest": {"valid": False, "new": {"samples_per_s": 1.0}}})
    assert "Runs marked invalid (failed requests or wrong data): ingest" in text


def test_latest_results_reads_the_last_record_since(tmp_path: Path) -> None:
    def write(name: str, *times: str) -> None:
        lines = [json.dumps({"time": t, "n": i}) for i, t in enumerate(times)]
        (tmp_path / f"{name}.jsonl").write_text("\n".join(lines) + "\n")

    write("ingest", "2026-11-30T10:00:00+0000", "2026-11-30T12:00:00+0000")
    write("functions", "2026-11-30T09:00:00+0000")
    since = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
    found = goals.latest_results(since, tmp_path)
    assert set(found) == {"ingest"} and found["ingest"]["n"] == 1
    assert set(goals.latest_results(None, tmp_path)) == {"ingest", "functions"}
