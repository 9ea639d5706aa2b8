"""Every read function of ``api`` on the one-year dataset: latency as a psql user sees it.

    python -m bench.functions                 # median and p95 of 20 calls each
    python -m bench.functions --repeat 50

Each call runs as ``web_anon`` (``SET ROLE``), as the HTTP API would, over the dataset's
last year where the function takes a range (or all of it when shorter); the session
functions also over the dataset's last 7 days (their default range) and 30 days. The
reference measured in the same run is a trivial ``select 1`` on the same connection (the
round trip every call pays), so ``x round trip`` says how much of a call is the function
itself. A function missing from the table below is reported, so new functions are not
silently left out.

Before/after in the same run: the year-long session functions and
``get_agg_cumsum_metric`` are also computed the way they were before the rollups of
migration 0046 and the plpgsql ``metrics.sum_before`` (``REFERENCES`` below: every
overlapping session clipped, the SQL ``sum_before`` planned without its bounds), timed
the same way as the superuser (the sessions helpers are not granted to ``web_anon``), and
checked to give the same rows.
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

YEAR = "p_from => {from_}, p_to => {to}"  # filled with the dataset's last year
# the session functions are also timed over these windows ending at the dataset's end
# (7 days is their default range when called without p_from/p_to)
SESSION_FUNCTIONS = ("get_runtime_by_user", "get_user_sessions", "get_active_users",
                     "get_node_usage", "get_image_usage")
SHORT_WINDOWS = {"7 days": timedelta(days=7), "30 days": timedelta(days=30)}
# function → argument list in named notation
CALLS: dict[str, str] = {
    "get_agg_metric": f"p_metric_name => 'manifest_block_height', p_schema => 'mainnet', "
                      f"p_interval => '1 day', {YEAR}",
    "get_agg_cumsum_metric": f"p_metric_name => 'web_requests', p_interval => '1 day', {YEAR}",
    # the dataset has no exemplars: this times the lookup over a year of empty partitions
    "get_exemplars": f"p_metric_name => 'manifest_block_height', p_schema => 'mainnet', {YEAR}",
    "get_agg_circulating_supply": f"p_schema => 'mainnet', p_interval => '1 day', {YEAR}",
    "get_agg_fdv": f"p_schema => 'mainnet', p_interval => '1 day', {YEAR}",
    "get_agg_market_cap": f"p_schema => 'mainnet', p_interval => '1 day', {YEAR}",
    "get_agg_burned_supply": f"p_schema => 'mainnet', p_interval => '1 day', {YEAR}",
    "get_latest_circulating_supply": "p_schema => 'mainnet'",
    "get_latest_fdv": "p_schema => 'mainnet'",
    "get_latest_market_cap": "p_schema => 'mainnet'",
    "get_latest_burned_supply": "p_schema => 'mainnet'",
    "get_all_latest_token_metrics": "p_schema => 'mainnet'",
    "get_all_latest_mainnet_metrics": "",
    "get_all_latest_testnet_metrics": "",
    "get_all_latest_common_metrics": "",
    "get_all_latest_cumsum_metrics": "",
    "get_latest_geo_coordinates": "",
    "get_excluded_addresses": "",
    "get_runtime_by_user": f"{YEAR}, p_limit => 100",
    "get_user_sessions": f"p_user_email => (select email from sessions.users order by email "
                         f"limit 1), {YEAR}",
    "get_active_users": f"p_interval => '1 day', {YEAR}",
    "get_node_usage": f"p_interval => '1 day', {YEAR}",
    "get_image_usage": f"p_interval => '1 day', {YEAR}",
}


# Before the rollups: the former bodies, as temporary functions (pg_temp) of the session.
REFERENCE_SETUP = """
CREATE FUNCTION pg_temp.runtime_from_sessions(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (user_email text, user_name text, total_hours numeric, gpu_hours numeric,
               cpu_hours numeric, sessions bigint, containers bigint, applications bigint,
               last_seen timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT u.email, u.name,
           round(sum(c.seconds_in_range) / 3600, 4),
           round(coalesce(sum(c.seconds_in_range) FILTER (WHERE c.node_class = 'gpu'), 0)
                 / 3600, 4),
           round(coalesce(sum(c.seconds_in_range) FILTER (WHERE c.node_class <> 'gpu'), 0)
                 / 3600, 4),
           count(*), count(DISTINCT c.pod_name), count(DISTINCT c.container_base),
           max(c.last_observed_at)
      FROM sessions.sessions_in_range(p_from, p_to) c
      JOIN sessions.users u ON u.user_id = c.user_id
     GROUP BY u.user_id, u.email, u.name
     ORDER BY sum(c.seconds_in_range) DESC, u.email
     LIMIT 100
$$;
CREATE FUNCTION pg_temp.sum_before_sql(p_schema text, p_name text, p_before timestamptz)
RETURNS numeric LANGUAGE sql STABLE STRICT AS $$
    WITH b AS (
        SELECT metrics.ceil_to(p_before, interval '1 minute') AS m,
               metrics.floor_to(metrics.ceil_to(p_before, interval '1 minute'),
                                interval '1 hour') AS h,
               metrics.floor_to(metrics.ceil_to(p_before, interval '1 minute'),
                                interval '1 day') AS d
    )
    SELECT coalesce((SELECT sum(r.sum_value) FROM metrics.rollup_1d AS r, b
                     WHERE r.schema = p_schema AND r.name = p_name AND r.bucket < b.d), 0)
         + coalesce((SELECT sum(r.sum_value) FROM metrics.rollup_1h AS r, b
                     WHERE r.schema = p_schema AND r.name = p_name
                       AND r.bucket >= b.d AND r.bucket < b.h), 0)
         + coalesce((SELECT sum(r.sum_value) FROM metrics.rollup_1m AS r, b
                     WHERE r.schema = p_schema AND r.name = p_name
                       AND r.bucket >= b.h AND r.bucket < b.m), 0)
$$;
"""
_USAGE = """SELECT s.bucket{cols}, count(DISTINCT s.user_id), count(*)
  FROM sessions.session_buckets('1 day', {{from_}}, {{to}}) s
 GROUP BY s.bucket{cols} ORDER BY s.bucket{cols}"""
REFERENCES: dict[str, str] = {
    "get_runtime_by_user": "SELECT * FROM pg_temp.runtime_from_sessions({from_}, {to})",
    "get_active_users": _USAGE.format(cols=""),
    "get_node_usage": "SELECT bucket, node_name, sessions.node_class_of(node_name), users, n FROM ("
                      + _USAGE.format(cols=", s.node_name") + ") AS x(bucket, node_name, users, n)",
    "get_image_usage": _USAGE.format(cols=", s.container_base, s.container_version"),
    "get_agg_cumsum_metric": """
        WITH increments AS (
            SELECT metrics.bucket_start(r.bucket, '1 day') AS b, sum(r.sum_value) AS s
            FROM metrics.rollup_rows('cumsum', ARRAY['web_requests'], {from_}, {to}, 'day') AS r
            GROUP BY 1)
        SELECT i.b, ((SELECT pg_temp.sum_before_sql('cumsum', 'web_requests', {from_}))
                     + sum(i.s) OVER (ORDER BY i.b))::text
        FROM increments AS i ORDER BY i.b""",
}


async def _time(conn: asyncpg.Connection, sql: str, repeat: int) -> tuple[int, list[float]]:
    rows = len(await conn.fetch(sql))  # warm-up, and the row count
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await conn.fetch(sql)
        times.append((time.perf_counter() - started) * 1000)
    return rows, times


def _literal(when: datetime) -> str:
    return f"'{when.isoformat()}'::timestamptz"


async def measure(dsn: str, repeat: int, start: datetime,
                  end: datetime) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        exposed = {r["proname"] for r in await conn.fetch(
            "select proname from pg_proc where pronamespace = 'api'::regnamespace "
            "and provolatile <> 'v'")}
        for name in sorted(exposed - set(CALLS)):
            print(f"not measured (no call defined in bench/functions.py): {name}")
        await conn.execute("set role web_anon")
        _, trip = await _time(conn, "select 1", repeat)
        round_trip = harness.median(trip)
        print(f"{'round trip (select 1)':32s} {round_trip:8.2f} ms")
        results = []
        calls = [(name, "year", args.replace("{from_}", _literal(start))
                  .replace("{to}", _literal(end))) for name, args in CALLS.items()]
        for window, span in SHORT_WINDOWS.items():
            calls += [(name, window, CALLS[name].replace("{from_}", _literal(end - span))
                       .replace("{to}", _literal(end))) for name in SESSION_FUNCTIONS]
        for name, window, args in calls:
            if name not in exposed:
                if window == "year":
                    print(f"{name:32s} missing from schema api")
                continue
            # the subquery in get_user_sessions' argument needs the owner's rights
            sql = f"select * from api.{name}({args})"
            if "sessions.users" in args:
                await conn.execute("reset role")
                email = await conn.fetchval(
                    "select email from sessions.users order by email limit 1")
                await conn.execute("set role web_anon")
                sql = sql.replace(
                    "(select email from sessions.users order by email limit 1)",
                    "'" + str(email).replace("'", "''") + "'")
            rows, times = await _time(conn, sql, repeat)
            med = harness.median(times)
            p95 = harness.percentiles(times, [95])[0]
            label = name if window == "year" else f"{name} ({window})"
            print(f"{label:42s} {rows:6d} rows  median {med:8.2f} ms  p95 {p95:8.2f} ms  "
                  f"{med / round_trip:7.1f} x round trip")
            results.append({"function": name, "range": window, "rows": rows,
                            "median_ms": med, "p95_ms": p95})
        await compare_with_references(conn, repeat, start, end, results)
        return results
    finally:
        await conn.close()


async def compare_with_references(conn: asyncpg.Connection, repeat: int, start: datetime,
                                  end: datetime, results: list[dict[str, Any]]) -> None:
    """The year-long calls computed as before (``REFERENCES``): time, ratio, same rows."""
    print("\nbefore/after, a year (before = the former SQL, as the superuser):")
    await conn.execute("reset role")
    await conn.execute(REFERENCE_SETUP)
    after = {r["function"]: r for r in results if r["range"] == "year"}
    for name, template in REFERENCES.items():
        sql = template.replace("{from_}", _literal(start)).replace("{to}", _literal(end))
        _rows, times = await _time(conn, sql, repeat)
        med = harness.median(times)
        args = CALLS[name].replace("{from_}", _literal(start)).replace("{to}", _literal(end))
        expected = [tuple(r) for r in await conn.fetch(sql)]
        got = [tuple(r) for r in await conn.fetch(f"select * from api.{name}({args})")]
        same = expected == got
        if not same:
            harness.problem(f"{name}: the rollups answer differently from the sessions")
        new = after[name]["median_ms"] if name in after else float("nan")
        print(f"{name:32s} before {med:8.2f} ms  after {new:8.2f} ms  "
              f"after/before {harness.ratio(new, med):>6}  same rows: {same}")
        if name in after:
            after[name].update(before_median_ms=med, same_as_before=same)


def run(span: timedelta, repeat: int) -> None:
    db, info = ensure_dataset(span)
    end = datetime.fromisoformat(info["end"])
    start = max(datetime.fromisoformat(info["start"]), end - timedelta(days=365))
    harness.heading(f"Every api read function: {db}, [{start:%Y-%m-%d %H:%M}, "
                    f"{end:%Y-%m-%d %H:%M}) UTC, as web_anon, median of {repeat}")
    dsn = harness.bench_cluster().dsn(db)
    results = asyncio.run(measure(dsn, repeat, start, end))
    slowest = max(results, key=lambda r: r["median_ms"])
    print(f"\nslowest: {slowest['function']} ({slowest['range']}) "
          f"{slowest['median_ms']:.1f} ms")
    path = harness.save_result("functions", {"dataset": db, "repeat": repeat, "from": start,
                                             "to": end, "results": results,
                                             "dataset_info": info})
    print(f"saved to {path.relative_to(harness.REPO)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="latency of every api read function")
    parser.add_argument("--span", type=parse_span, default=parse_span("365d"),
                        help="dataset to run against (generated when missing; default 365d)")
    parser.add_argument("--repeat", type=int, default=20, help="calls per function")
    args = parser.parse_args(argv)
    run(args.span, args.repeat)
    return harness.exit_code()


if __name__ == "__main__":
    raise SystemExit(main())
