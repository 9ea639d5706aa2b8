"""Fill a benchmark database with a span of realistic metrics and container observations.

    python -m bench.dataset --span 365d            # the default: one year at one minute
    python -m bench.dataset --span 7d --fresh      # a small one for development

What goes in (77 series at one sample per ``--step``; a year at one minute is ~40 million
raw samples):

- mainnet and testnet (label ``manifest_tier``): the five tokenomics metrics, sent the way
  exporters send them (sample value 1, the 21-digit amount in label ``supply``,
  ``excluded_supply`` or ``amount``, a new amount almost every minute), and six chain
  gauges on two nodes each;
- common: the MFX price ``talib_mfx_power_conversion`` and three host gauges on four hosts;
- cumsum: the six cumulative names on two instances each (per-minute increments);
- geo: latitude, longitude and metadata (``country_name``, ``city``) of six validators;
- container observations: ``--users`` JupyterHub users (default 300), each with a pod life
  on about half of the days, seen every five minutes by the collector, pod names reused.

How: the series are registered with the data model's own routing
(``metrics.route_schema``); samples are COPYed straight into ``metrics.samples`` month by
month (partitions made by ``metrics.ensure_partitions``); the rollup tiers and latest state
are then built by the data model's ``metrics.rebuild_rollups(from, to)``, with the
semantics of ``ingest.write_samples`` ("last" = greatest (time, series), plus sum and
count; the value labels are ``api.ingest.decode.BIG_NUMBER_LABELS``); container
observations are COPYed into ``sessions.observations``, whose statement trigger builds the
sessions. The database is dropped and re-created first, and its description (span, end,
counts) is stored as the database comment, so benchmarks reuse a matching dataset.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import random
import re
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from tqdm import tqdm

from api.ingest.decode import BIG_NUMBER_LABELS
from bench import harness

OBSERVATION_EVERY = timedelta(minutes=5)


# --- the series catalogue ----------------------------------------------------------------


@dataclass(frozen=True)
class SeriesSpec:
    """One series: name, full labels (big-number label included) and how its values go."""

    name: str
    labels: dict[str, str]
    model: str  # key of MODELS
    base: float
    seed: int

    @property
    def value_label(self) -> str | None:
        return next((k for k in BIG_NUMBER_LABELS if k in self.labels), None)

    @property
    def identity_labels(self) -> dict[str, str]:
        """Labels as the series identity: without the big-number value labels."""
        return {k: v for k, v in self.labels.items() if k not in BIG_NUMBER_LABELS}


TOKENOMICS = (
    # name, value label, start amount (21 digits), model
    ("manifest_tokenomics_total_supply", "supply", 123_456_789_012_345_678_901, "growing"),
    ("manifest_tokenomics_excluded_supply", "excluded_supply", 150_000_000_000_000_000_000,
     "steps"),
    ("locked_tokens", "amount", 210_987_654_321_098_765_432, "wander"),
    ("locked_fees", "amount", 10_000_000_000_000_000, "growing_slow"),
    ("total_mfx_burned", "amount", 5_000_000_000_000_000_000, "growing"),
)
CHAIN_GAUGES = (
    ("manifest_block_height", "height", 4_000_000),
    ("manifest_validators_active", "count", 50),
    ("manifest_tx_per_block", "gauge", 12.0),
    ("manifest_peers", "count", 40),
    ("manifest_mempool_size", "gauge", 200.0),
    ("manifest_block_time_seconds", "gauge", 6.0),
)
HOST_GAUGES = (
    ("system_cpu_percent", "percent", 35.0),
    ("system_memory_used_bytes", "gauge", 8.0e9),
    ("system_disk_used_bytes", "gauge", 4.0e11),
)
CUMSUM_NAMES = (
    ("web_requests", 900.0),
    ("system_tcp_sent", 2.0e6),
    ("system_tcp_received", 1.5e6),
    ("system_network_sent", 6.0e7),
    ("system_network_received", 4.5e7),
    ("decentralized_web_requests", 120.0),
)
VALIDATORS = (
    ("val-1", 50.1109, 8.6821, "Germany", "Frankfurt am Main"),
    ("val-2", 40.7128, -74.0060, "United States", "New York"),
    ("val-3", 1.3521, 103.8198, "Singapore", "Singapore"),
    ("val-4", 45.5017, -73.5673, "Canada", "Montreal"),
    ("val-5", 35.6762, 139.6503, "Japan", "Tokyo"),
    ("val-6", -33.8688, 151.2093, "Australia", "Sydney"),
)


def catalogue() -> list[SeriesSpec]:
    out: list[SeriesSpec] = []

    def add(name: str, labels: dict[str, str], model: str, base: float) -> None:
        out.append(SeriesSpec(name, labels, model, base, seed=len(out) + 1))

    for tier in ("mainnet", "testnet"):
        scale = 1 if tier == "mainnet" else 3
        for name, label, amount, model in TOKENOMICS:
            labels = {"job": "tokenomics", "instance": f"tokenomics-{tier}:9100",
                      "manifest_tier": tier, label: "0"}
            add(name, labels, model, float(amount * scale))
        for node in (1, 2):
            for name, model, base in CHAIN_GAUGES:
                labels = {"job": "node", "instance": f"{tier}-node-{node}:26660",
                          "manifest_tier": tier}
                add(name, labels, model, base)
    add("talib_mfx_power_conversion", {"job": "talib", "instance": "talib:9100"}, "price", 0.0234)
    for host in range(1, 5):
        for name, model, base in HOST_GAUGES:
            add(name, {"job": "host", "instance": f"host-{host}:9100"}, model, base)
    for name, base in CUMSUM_NAMES:
        for inst in (1, 2):
            labels = {"job": "web", "instance": f"web-{inst}:9100", "manifest_tier": "mainnet"}
            add(name, labels, "increments", base)
    for instance, lat, lon, country, city in VALIDATORS:
        labels = {"job": "geo", "instance": instance}
        add("manifest_geo_latitude", labels, "constant", lat)
        add("manifest_geo_longitude", labels, "constant", lon)
        add("manifest_geo_metadata", {**labels, "country_name": country, "city": city},
            "constant", 1.0)
    return out


# --- values: closed forms of the minute index, so any month can be made on its own ----


def _values(spec: SeriesSpec, first: int, count: int) -> list[str]:
    """Values (as COPY text) of minutes ``first`` .. ``first + count - 1`` of the span."""
    rng = random.Random(spec.seed * 1_000_003 + first)
    idx = range(first, first + count)
    base = spec.base
    model = spec.model
    if model == "growing":  # monotonic: base + k·t + jitter in [0, k)
        step = int(base // 10**8) or 1
        b = int(base)
        return [str(b + t * step + rng.randrange(step)) for t in idx]
    if model == "growing_slow":
        step = int(base // 10**7) or 1
        b = int(base)
        return [str(b + t * step + rng.randrange(step)) for t in idx]
    if model == "steps":  # changes a few times a day
        b = int(base)
        return [str(b + (t // 360) * 10**15 + ((t // 360) % 7) * 3 * 10**17) for t in idx]
    if model == "wander":
        b = int(base)
        amp = b // 50
        return [str(b + int(amp * math.sin(t / 4000.0)) + rng.randrange(10**15)) for t in idx]
    if model == "height":
        return [str(int(base) + t * 10 + rng.randrange(3)) for t in idx]
    if model == "count":
        return [str(int(base) + int(3 * math.sin(t / 900.0)) + rng.randrange(2)) for t in idx]
    if model == "gauge":
        return [repr(round(base * (1 + 0.2 * math.sin(t / 700.0)) + rng.random() * base * 0.1, 3))
                for t in idx]
    if model == "percent":
        return [repr(round(min(100.0, base + 25 * math.sin(t / 300.0) + rng.random() * 10), 2))
                for t in idx]
    if model == "price":
        return [repr(round(base * (1 + 0.3 * math.sin(t / 40000.0) + 0.05 * math.sin(t / 600.0))
                           + rng.random() * 1e-5, 8)) for t in idx]
    if model == "increments":
        return [str(int(base * (0.6 + 0.4 * math.sin(t / 1440.0 * 2 * math.pi)))
                    + rng.randrange(int(base // 10) + 1)) for t in idx]
    if model == "constant":
        return [repr(base)] * count
    raise ValueError(f"unknown value model {model}")


# --- chunks and COPY ---------------------------------------------------------------------


def parse_span(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([mhdw])", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a span: {text!r} (e.g. 90m, 12h, 7d, 365d)")
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match[2]]
    return timedelta(**{unit: int(match[1])})


def month_chunks(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) cut at UTC month boundaries (those of the partitions)."""
    out = []
    lo = start
    while lo < end:
        nxt = (lo.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
               + timedelta(days=32)).replace(day=1)
        hi = min(nxt, end)
        out.append((lo, hi))
        lo = hi
    return out


@dataclass(frozen=True)
class Plan:
    start: datetime
    end: datetime
    step: timedelta
    dsn: str
    series_ids: list[int]
    series_schemas: list[str]
    users: int
    seed: int

    def minute_index(self, when: datetime) -> int:
        return int((when - self.start) / self.step)


def _timestamps(plan: Plan, lo: datetime, hi: datetime) -> tuple[int, list[str]]:
    first = plan.minute_index(lo)
    if plan.start + first * plan.step < lo:
        first += 1
    stamps = []
    t = plan.start + first * plan.step
    while t < hi:
        stamps.append(t.strftime("%Y-%m-%d %H:%M:%S+00"))
        t += plan.step
    return first, stamps


async def _sample_rows(plan: Plan, specs: list[SeriesSpec], lo: datetime, hi: datetime,
                       progress: Callable[[int], None]) -> AsyncIterator[bytes]:
    """COPY text for [lo, hi), a day at a time, time-major so the index grows at its edge."""
    day = lo
    while day < hi:
        day_end = min(day + timedelta(days=1), hi)
        first, stamps = _timestamps(plan, day, day_end)
        if stamps:
            columns = []
            for spec, sid, schema in zip(specs, plan.series_ids, plan.series_schemas,
                                         strict=True):
                prefix = f"\t{sid}\t{schema}\t"
                columns.append([prefix + v for v in _values(spec, first, len(stamps))])
            lines = []
            for i, stamp in enumerate(stamps):
                lines.extend(stamp + col[i] for col in columns)
            lines.append("")
            yield "\n".join(lines).encode()
            progress(len(stamps) * len(specs))
        day = day_end


async def _load_month(plan: Plan, lo: datetime, hi: datetime,
                      progress: Callable[[int], None]) -> None:
    specs = catalogue()
    conn = await asyncpg.connect(plan.dsn)
    try:
        await conn.execute("SET work_mem = '256MB'; SET maintenance_work_mem = '512MB'")
        async with conn.transaction():
            await conn.execute("SELECT metrics.ensure_partitions(ARRAY[$1, $2]::timestamptz[])",
                               lo, hi - timedelta(microseconds=1))
            await conn.copy_to_table(
                "samples", schema_name="metrics", columns=["time", "series_id", "schema", "value"],
                source=_sample_rows(plan, specs, lo, hi, progress), format="text")
        await _load_observations(conn, plan, lo, hi, progress)
    finally:
        await conn.close()


# --- container observations -------------------------------------------------------------

NODES = ("cpu-node-1", "cpu-node-2", "cpu-node-3", "cpu-node-4", "cpu-node-5", "cpu-node-6",
         "gpu-a100-node-1", "gpu-a100-node-2", "gpu-h100-node-1")
IMAGES = (("quay.io/jupyter/scipy-notebook", ("2024-10-07", "2025-03-17", "2025-06-02")),
          ("quay.io/jupyter/pytorch-notebook", ("cuda12-2025-03-17", "cuda12-2025-06-02")),
          ("ghcr.io/manifest/research-notebook", ("1.4.0", "1.5.2")))


def sessions_of(plan: Plan) -> Iterator[tuple[int, str, str, str, str, datetime, int]]:
    """(user, pod, node, image, version, start, seconds) for every pod life of the span."""
    rng = random.Random(plan.seed)
    days = int((plan.end - plan.start) / timedelta(days=1)) + 1
    for user in range(1, plan.users + 1):
        heavy = rng.random() < 0.2
        busy_until: dict[str, datetime] = {}  # one pod name lives once at a time
        for day in range(days):
            if rng.random() > (0.8 if heavy else 0.4):
                continue
            start = plan.start + timedelta(days=day, seconds=rng.randrange(86400))
            seconds = int(min(rng.expovariate(1 / (4 * 3600 if heavy else 2 * 3600)), 3 * 86400))
            node = rng.choice(NODES[6:] if heavy and rng.random() < 0.5 else NODES[:6])
            base, versions = IMAGES[2 if "gpu" not in node and rng.random() < 0.3 else
                                    (1 if "gpu" in node else 0)]
            pod = f"jupyter-user{user:04d}" + ("--gpu" if "gpu" in node else "")
            if pod in busy_until and start < busy_until[pod] + OBSERVATION_EVERY * 2:
                continue
            busy_until[pod] = start + timedelta(seconds=max(seconds, 60))
            yield user, pod, node, base, rng.choice(versions), start, max(seconds, 60)


def _observation_rows(plan: Plan, lo: datetime, hi: datetime) -> list[str]:
    rows = []
    gap = random.Random(plan.seed + int(lo.timestamp()))
    epoch = datetime(2000, 1, 3, tzinfo=UTC)
    for user, pod, node, base, version, start, seconds in sessions_of(plan):
        end = start + timedelta(seconds=seconds)
        if end < lo or start >= hi:
            continue
        # collector ticks every five minutes, aligned
        first = max(start, lo)
        ticks = math.ceil((first - epoch) / OBSERVATION_EVERY)
        t = epoch + ticks * OBSERVATION_EVERY
        while t <= end and t < hi and t <= plan.end:
            if gap.random() > 0.02:  # the collector misses a cycle now and then
                age = int((t - start).total_seconds())
                rows.append(f"{t:%Y-%m-%d %H:%M:%S+00}\t{user}\t{pod}\t{node}\t{base}\t"
                            f"{version}\t{age}")
            t += OBSERVATION_EVERY
    return rows


async def _load_observations(conn: asyncpg.Connection, plan: Plan, lo: datetime, hi: datetime,
                             progress: Callable[[int], None]) -> None:
    if plan.users <= 0:
        return
    rows = _observation_rows(plan, lo, hi)
    if not rows:
        return
    data = ("\n".join(rows) + "\n").encode()

    async def source() -> AsyncIterator[bytes]:
        yield data

    async with conn.transaction():
        await conn.execute("SELECT sessions.ensure_observation_partitions($1, $2)",
                           lo, hi - timedelta(microseconds=1))
        await conn.copy_to_table(
            "observations", schema_name="sessions",
            columns=["observed_at", "user_id", "pod_name", "node_name", "container_base",
                     "container_version", "age_seconds"],
            source=source(), format="text")
    progress(len(rows))


# --- driver -----------------------------------------------------------------------------


def _worker(args: tuple[Plan, datetime, datetime, Any]) -> None:
    plan, lo, hi, queue = args
    asyncio.run(_load_month(plan, lo, hi, queue.put))


async def _prepare(dsn: str, users: int) -> tuple[list[int], list[str]]:
    specs = catalogue()
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """INSERT INTO metrics.series (schema, name, labels)
               SELECT metrics.route_schema(n, l), n, l
               FROM unnest($1::text[], $2::jsonb[]) WITH ORDINALITY AS u(n, l, ord)
               ORDER BY ord
               RETURNING id, schema""",
            [s.name for s in specs], [json.dumps(s.identity_labels) for s in specs])
        if users > 0:
            await conn.execute(
                """INSERT INTO sessions.users (email, name)
                   SELECT format('user%s@example.org', lpad(i::text, 4, '0')),
                          format('User %s', i)
                   FROM generate_series(1, $1) AS i ORDER BY i""", users)
    finally:
        await conn.close()
    return [r["id"] for r in rows], [r["schema"] for r in rows]


async def _finish(dsn: str, start: datetime, description: dict[str, Any], db: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        # the data model's own rollups, from the samples the workers COPYed
        await conn.execute("SELECT * FROM metrics.rebuild_rollups($1, $2)",
                           start, _parse_time(description["end"]) + timedelta(minutes=1))
        await conn.execute("ANALYZE")
        counts = await conn.fetchrow(
            """SELECT (SELECT count(*) FROM metrics.samples) AS samples,
                      (SELECT count(*) FROM metrics.rollup_1m) AS rollup_1m,
                      (SELECT count(*) FROM sessions.observations) AS observations,
                      (SELECT count(*) FROM sessions.sessions) AS sessions,
                      pg_size_pretty(pg_database_size(current_database())) AS size""")
        description.update(dict(counts))
        await conn.execute(f"COMMENT ON DATABASE \"{db}\" IS "
                           f"{_quote(json.dumps(description, default=str))}")
    finally:
        await conn.close()


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def database_name(span: timedelta, step: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    label = f"{minutes // 1440}d" if minutes % 1440 == 0 else f"{minutes}m"
    step_label = f"{int(step.total_seconds() // 60)}m"
    return f"bench_{label}_{step_label}"


def describe(cluster: Any, db: str) -> dict[str, Any] | None:
    """The stored description of a generated dataset, or None when there is none."""
    if not cluster.database_exists(db):
        return None
    text = harness.psql(cluster, "postgres",
                        f"select shobj_description(oid, 'pg_database') from pg_database "
                        f"where datname = '{db}'")
    try:
        value = json.loads(text) if text else None
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) and value.get("complete") else None


def generate(span: timedelta, *, step: timedelta = timedelta(minutes=1), users: int = 300,
             jobs: int = 1, db: str | None = None, seed: int = 42,
             end: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """Generate into a fresh database; returns its name and description."""
    cluster = harness.bench_cluster()
    db = db or database_name(span, step)
    end = end or datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - span
    print(f"dataset {db}: {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC every {step}, "
          f"{len(catalogue())} series, {users} users", flush=True)
    dsn = harness.ensure_database(cluster, db, fresh=True)
    began = time.monotonic()
    ids, schemas = asyncio.run(_prepare(dsn, users))
    plan = Plan(start, end, step, dsn, ids, schemas, users, seed)
    chunks = month_chunks(start, end)
    expected = int(span / step) * len(ids)
    with mp.Manager() as manager, tqdm(total=expected, unit=" rows", unit_scale=True,
                                       smoothing=0.05, file=sys.stderr) as bar:
        queue = manager.Queue()
        with mp.get_context("spawn").Pool(max(1, jobs)) as pool:
            pending = pool.map_async(_worker, [(plan, lo, hi, queue) for lo, hi in chunks],
                                     chunksize=1)
            while not pending.ready() or not queue.empty():
                while not queue.empty():
                    n = queue.get()
                    if bar.n + n > bar.total:
                        bar.total = bar.n + n
                    bar.update(n)
                pending.wait(0.2)
            pending.get()
    description: dict[str, Any] = {
        "start": start.isoformat(), "end": end.isoformat(), "step_seconds": step.total_seconds(),
        "series": len(ids), "users": users, "seed": seed, "complete": True,
    }
    asyncio.run(_finish(dsn, start, description, db))
    description["seconds"] = round(time.monotonic() - began, 1)
    rate = description["samples"] / max(description["seconds"], 1e-9)
    print(f"dataset {db}: {description['samples']:,} samples, {description['rollup_1m']:,} "
          f"minute rollups, {description['observations']:,} observations "
          f"({description['sessions']:,} sessions), {description['size']} on disk, "
          f"{description['seconds']} s ({rate:,.0f} samples/s)", flush=True)
    return db, description


def ensure_dataset(span: timedelta, *, step: timedelta = timedelta(minutes=1),
                   users: int = 300, jobs: int = 1) -> tuple[str, dict[str, Any]]:
    """A generated dataset of this span and step: reused when complete, else generated."""
    cluster = harness.bench_cluster()
    db = database_name(span, step)
    found = describe(cluster, db)
    if found is not None:
        # make sure functions added since are there too (the migrator is idempotent)
        harness.ensure_database(cluster, db)
        return db, found
    return generate(span, step=step, users=users, jobs=jobs, db=db)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fill a benchmark database with realistic data")
    parser.add_argument("--span", type=parse_span, default=parse_span("365d"),
                        help="how much history, e.g. 7d, 90d, 365d (default 365d)")
    parser.add_argument("--step", type=parse_span, default=parse_span("1m"),
                        help="sample interval (default 1m)")
    parser.add_argument("--users", type=int, default=300, help="JupyterHub users (default 300)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="months loaded in parallel (default 1; each job is one core)")
    parser.add_argument("--db", help="database name (default bench_<span>_<step>)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reuse", action="store_true",
                        help="keep an existing complete dataset of this span instead of "
                             "regenerating it")
    args = parser.parse_args(argv)
    if args.reuse and not args.db:
        db, description = ensure_dataset(args.span, step=args.step, users=args.users,
                                         jobs=args.jobs)
        print(f"{db}: {json.dumps(description, default=str)}")
        return 0
    generate(args.span, step=args.step, users=args.users, jobs=args.jobs, db=args.db,
             seed=args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
