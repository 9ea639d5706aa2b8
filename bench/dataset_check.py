"""Check that the generator's bulk rollups equal what the ingest path builds.

    python -m bench.dataset_check              # a 2-day dataset, replayed through write_samples

Generates a small dataset (``--span``, default 2d) with ``bench.dataset``, replays every
sample through ``ingest.write_samples`` (batches of 5,000, big-number values back in their
labels) into a second fresh database, and compares the rollup tiers and latest state row
by row. Run it after the data model's write path changes: the generator builds rollups
with ``metrics.rebuild_rollups`` (bulk, from the raw samples), the ingest batch by batch,
and this says whether the two still agree.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import asyncpg

from bench import harness
from bench.dataset import catalogue, generate, parse_span

# last_series is left out: series ids are per database (registered in another order)
TABLES = {
    "rollup_1m": "schema, name, bucket, last_time, last_value, sum_value, n",
    "rollup_1h": "schema, name, bucket, last_time, last_value, sum_value, n",
    "rollup_1d": "schema, name, bucket, last_time, last_value, sum_value, n",
    "latest_by_name": "schema, name, last_time, last_value, total_sum, n",
}
LATEST_BY_SERIES = """
SELECT se.name, se.labels::text, l.last_time, l.last_value
FROM metrics.latest_by_series AS l JOIN metrics.series AS se ON se.id = l.series_id
ORDER BY 1, 2
"""


async def replay(source_dsn: str, target_dsn: str) -> int:
    value_label = {s.name: s.value_label for s in catalogue() if s.value_label}
    src = await asyncpg.connect(source_dsn)
    dst = await asyncpg.connect(target_dsn)
    try:
        rows = await src.fetch(
            """SELECT s.time, se.name, se.labels::text AS labels, s.value
               FROM metrics.samples AS s JOIN metrics.series AS se ON se.id = s.series_id
               ORDER BY s.time, s.series_id""")
        for start in range(0, len(rows), 5000):
            batch = rows[start:start + 5000]
            labels, values = [], []
            for r in batch:
                label = value_label.get(r["name"])
                if label:
                    labels.append(json.dumps({**json.loads(r["labels"]), label: str(r["value"])}))
                    values.append(1.0)
                else:
                    labels.append(r["labels"])
                    values.append(float(r["value"]))
            await dst.execute(
                "SELECT * FROM ingest.write_samples($1, $2, $3::jsonb[], $4)",
                [r["time"] for r in batch], [r["name"] for r in batch], labels, values)
        return len(rows)
    finally:
        await src.close()
        await dst.close()


async def compare(a_dsn: str, b_dsn: str) -> bool:
    a = await asyncpg.connect(a_dsn)
    b = await asyncpg.connect(b_dsn)
    same_all = True
    try:
        queries = {t: f"SELECT {cols} FROM metrics.{t} ORDER BY 1, 2, 3"
                   for t, cols in TABLES.items()}
        queries["latest_by_series"] = LATEST_BY_SERIES
        for table, sql in queries.items():
            ra = [tuple(r) for r in await a.fetch(sql)]
            rb = [tuple(r) for r in await b.fetch(sql)]
            same = ra == rb
            same_all &= same
            print(f"{table:<18} {len(ra):>9,} rows  {'identical' if same else 'DIFFERENT'}")
            if not same:
                for x, y in zip(ra, rb, strict=False):
                    if x != y:
                        print(f"  generator: {x}\n  ingest:    {y}")
                        break
    finally:
        await a.close()
        await b.close()
    return same_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="generator rollups vs ingest rollups")
    parser.add_argument("--span", type=parse_span, default=parse_span("2d"))
    args = parser.parse_args(argv)
    cluster = harness.bench_cluster()
    db, _ = generate(args.span, users=0, db="bench_check_generated")
    target = harness.ensure_database(cluster, "bench_check_ingested", fresh=True)
    n = asyncio.run(replay(cluster.dsn(db), target))
    print(f"replayed {n:,} samples through ingest.write_samples")
    same = asyncio.run(compare(cluster.dsn(db), target))
    print("generator and ingest agree" if same else "generator and ingest DISAGREE")
    for name in (db, "bench_check_ingested"):
        harness.drop_database(cluster, name)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
