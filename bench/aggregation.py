"""Tokenomics over a year: the rollup-backed functions against the same answer from raw samples.

    python -m bench.aggregation                    # the four get_agg_* tokenomics functions
    python -m bench.aggregation --raw-repeat 1     # the raw side is slow: fewer repetitions

For each of ``get_agg_circulating_supply``, ``get_agg_fdv``, ``get_agg_market_cap`` and
``get_agg_burned_supply`` on mainnet over the dataset's last year (or all of it when
shorter) at 1-day and 1-hour buckets: the median time of the SQL call (through asyncpg,
as the superuser, repeated), and the time of a query computing the same rows from
``metrics.samples`` with the same rules (last sample per term and bucket, greatest
(time, series) wins; price carried forward, including from before the range). Printed:
both times, raw/rollups, and whether the two answers are identical.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from bench import harness
from bench.dataset import ensure_dataset, parse_span

TERMS = ("manifest_tokenomics_total_supply", "manifest_tokenomics_excluded_supply",
         "locked_tokens", "locked_fees", "total_mfx_burned")
PRICE = "talib_mfx_power_conversion"
CIRCULATING = ("coalesce(c.total, 0) - coalesce(c.excluded, 0) - coalesce(c.locked, 0)"
               " - coalesce(c.fees, 0)")
# function → (value expression, row filter), as in sql/functions/metrics/tokenomics_agg.sql
FUNCTIONS = {
    "get_agg_circulating_supply": (
        CIRCULATING,
        "c.total IS NOT NULL OR c.excluded IS NOT NULL OR c.locked IS NOT NULL "
        "OR c.fees IS NOT NULL"),
    "get_agg_fdv": ("c.total * c.price", "c.total IS NOT NULL"),
    "get_agg_market_cap": (f"({CIRCULATING}) * c.price", "c.total IS NOT NULL"),
    "get_agg_burned_supply": ("c.burned", "c.burned IS NOT NULL"),
}

RAW_SQL = """
WITH raw AS (
    SELECT s.time, s.series_id, s.value, se.name,
           metrics.bucket_start(s.time, $2::interval) AS b
    FROM metrics.samples AS s
    JOIN metrics.series AS se ON se.id = s.series_id
    WHERE s.time >= $3 AND s.time < $4
      AND ((s.schema = $1 AND se.schema = $1 AND se.name = ANY ($5::text[]))
           OR (s.schema = 'common' AND se.schema = 'common' AND se.name = $6))
), terms AS (
    SELECT DISTINCT ON (r.b, r.name) r.b, r.name, r.value
    FROM raw AS r WHERE r.name <> $6
    ORDER BY r.b, r.name, r.time DESC, r.series_id DESC
), by_bucket AS (
    SELECT t.b,
           max(t.value) FILTER (WHERE t.name = 'manifest_tokenomics_total_supply') AS total,
           max(t.value) FILTER (WHERE t.name = 'manifest_tokenomics_excluded_supply') AS excluded,
           max(t.value) FILTER (WHERE t.name = 'locked_tokens') AS locked,
           max(t.value) FILTER (WHERE t.name = 'locked_fees') AS fees,
           max(t.value) FILTER (WHERE t.name = 'total_mfx_burned') AS burned
    FROM terms AS t GROUP BY t.b
), prices AS (
    SELECT DISTINCT ON (r.b) r.b, r.value AS price
    FROM raw AS r WHERE r.name = $6
    ORDER BY r.b, r.time DESC, r.series_id DESC
), price_before AS (
    SELECT s.value
    FROM metrics.samples AS s JOIN metrics.series AS se ON se.id = s.series_id
    WHERE s.schema = 'common' AND se.name = $6 AND s.time < $3
    ORDER BY s.time DESC, s.series_id DESC LIMIT 1
), merged AS (
    SELECT coalesce(t.b, p.b) AS b, t.total, t.excluded, t.locked, t.fees, t.burned,
           t.b IS NOT NULL AS has_terms, p.price,
           count(p.price) OVER (ORDER BY coalesce(t.b, p.b)) AS price_group
    FROM by_bucket AS t FULL JOIN prices AS p ON p.b = t.b
), carried AS (
    SELECT m.*, CASE WHEN m.price_group = 0 THEN (SELECT value FROM price_before)
                     ELSE first_value(m.price) OVER (PARTITION BY m.price_group ORDER BY m.b)
                END AS carried_price
    FROM merged AS m
)
SELECT c.b AS "timestamp", ({value})::text AS value
FROM (SELECT b, total, excluded, locked, fees, burned, has_terms, carried_price AS price
      FROM carried) AS c
WHERE c.has_terms AND ({filter})
ORDER BY c.b
"""


async def _timed(conn: asyncpg.Connection, sql: str, args: list[Any],
                 repeat: int) -> tuple[float, list[tuple[Any, ...]]]:
    times = []
    rows: list[tuple[Any, ...]] = []
    for _ in range(repeat):
        began = time.perf_counter()
        records = await conn.fetch(sql, *args)
        times.append(time.perf_counter() - began)
        rows = [tuple(r) for r in records]
    return harness.median(times), rows


async def measure(dsn: str, start: datetime, end: datetime, intervals: list[str],
                  repeat: int, raw_repeat: int) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    out = []
    try:
        await conn.execute("SET work_mem = '64MB'")
        for interval in intervals:
            step = {"1 day": timedelta(days=1), "1 hour": timedelta(hours=1)}[interval]
            for function, (value, row_filter) in FUNCTIONS.items():
                api_sql = f"select * from api.{function}($1, $2::interval, $3, $4)"
                await conn.fetch(api_sql, "mainnet", step, start, end)  # warm
                api_s, api_rows = await _timed(conn, api_sql, ["mainnet", step, start, end],
                                               repeat)
                raw_sql = RAW_SQL.format(value=value, filter=row_filter)
                raw_s, raw_rows = await _timed(
                    conn, raw_sql, ["mainnet", step, start, end, list(TERMS), PRICE],
                    raw_repeat)
                same = api_rows == raw_rows
                record = {"function": function, "interval": interval, "rows": len(api_rows),
                          "rollups_ms": api_s * 1000, "raw_ms": raw_s * 1000,
                          "raw_over_rollups": raw_s / api_s, "same_answer": same}
                out.append(record)
                note = "same answer" if same else f"DIFFERENT ({len(raw_rows)} raw rows)"
                if not same:
                    harness.problem(f"{function} {interval}: rollups and raw samples differ")
                print(f"{function:<28} {interval:<7} {len(api_rows):>6} rows   rollups "
                      f"{api_s * 1000:>8.1f} ms   raw {raw_s * 1000:>9.1f} ms   raw/rollups "
                      f"{raw_s / api_s:>7.0f}x   {note}", flush=True)
    finally:
        await conn.close()
    return out


def run(*, span: timedelta, repeat: int, raw_repeat: int) -> dict[str, Any]:
    db, description = ensure_dataset(span)
    cluster = harness.bench_cluster()
    end = datetime.fromisoformat(description["end"])
    start = max(datetime.fromisoformat(description["start"]), end - timedelta(days=365))
    harness.heading(f"Aggregation: {db}, mainnet, [{start:%Y-%m-%d %H:%M}, "
                    f"{end:%Y-%m-%d %H:%M}) UTC, rollups median of {repeat}, raw median of "
                    f"{raw_repeat}")
    results = asyncio.run(measure(cluster.dsn(db), start, end, ["1 day", "1 hour"], repeat,
                                  raw_repeat))
    worst_day = max(r["rollups_ms"] for r in results if r["interval"] == "1 day")
    print(f"\nslowest tokenomics function at 1-day buckets: {worst_day:.1f} ms")
    payload = {"db": db, "from": start, "to": end, "results": results}
    path = harness.save_result("aggregation", payload)
    print(f"saved to {path.relative_to(harness.REPO)}")
    return payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="tokenomics: rollups vs raw samples")
    parser.add_argument("--span", type=parse_span, default=parse_span("365d"),
                        help="dataset to run against (generated when missing; default 365d)")
    parser.add_argument("--repeat", type=int, default=20, help="repetitions of each call")
    parser.add_argument("--raw-repeat", type=int, default=2,
                        help="repetitions of each raw-sample query (slow; default 2)")
    args = parser.parse_args(argv)
    run(span=args.span, repeat=args.repeat, raw_repeat=args.raw_repeat)
    return harness.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
