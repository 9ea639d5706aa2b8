"""Shared pieces of the benchmarks: cluster, databases, server processes, wrk, pgbench.

Every benchmark prints its figures as ratios to a reference measured in the same run:
the machines we run on are shared and noisy, so absolute numbers move between runs while
ratios measured side by side mostly do not. Results are also appended as JSON lines to
``bench/results/`` (gitignored) so docs/PERFORMANCE.md can quote them.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from api.migrate import migrate
from api.pgcluster import ThrowawayCluster, free_port, wait_for_port

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO / ".data" / "bench"
RESULTS_DIR = REPO / "bench" / "results"
PYTHON = sys.executable
JWT_SECRET = "bench-secret-" + "x" * 40  # fixed: tokens minted by one script work in another
# Huge limits: the limiter runs on every request (its cost is part of the goal) but never
# rejects. "ingest" is the remote-write budget. Per second so the moving window, which
# keeps one entry per hit and sees all load as one client, stays near production sizes
# (per minute measured the same, see docs/PERFORMANCE.md).
HUGE_RATE_LIMITS = "web_anon=10000000/second;writer=10000000/second;ingest=10000000/second"
SERVERS = ("uvicorn", "granian")


# --- cluster and databases -----------------------------------------------------------


_started_here: set[Path] = set()


def bench_cluster(folder: Path | None = None) -> ThrowawayCluster:
    """The benchmark cluster under ``folder`` (default .data/bench/pg), started (its data
    kept between runs).

    When this process starts it, it is stopped again when the process exits; a cluster
    that was already running (e.g. started by hand for a series of runs) is left alone.
    """
    folder = (folder or DATA_DIR / "pg").resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    cluster = ThrowawayCluster(folder)
    if not cluster.is_running() and folder not in _started_here:
        _started_here.add(folder)
        atexit.register(cluster.stop)
    return cluster.start()


def ensure_database(cluster: ThrowawayCluster, name: str, *, fresh: bool = False) -> str:
    """Create (or recreate when ``fresh``) and migrate database ``name``; its superuser DSN."""
    if fresh and cluster.database_exists(name):
        drop_database(cluster, name)
    if not cluster.database_exists(name):
        cluster.createdb(name)
    dsn = cluster.dsn(name)
    asyncio.run(migrate(dsn, echo=_quiet))
    return dsn


def drop_database(cluster: ThrowawayCluster, name: str) -> None:
    psql(cluster, "postgres", f'drop database if exists "{name}" with (force)')


def migrate_with(tree: Path, dsn: str) -> None:
    """Migrate with the migrator (and SQL) of another checkout, e.g. the code before a change."""
    code = f"import asyncio, api.migrate; asyncio.run(api.migrate.migrate({dsn!r}, echo=print))"
    subprocess.run([PYTHON, "-c", code], cwd=tree, check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(tree)})


def _quiet(_line: str) -> None:
    pass


def psql(cluster: ThrowawayCluster, db: str, sql: str) -> str:
    out = subprocess.run(
        ["psql", "-h", cluster.host, "-p", str(cluster.port), "-U", "postgres", "-d", db,
         "-XtAq", "-v", "ON_ERROR_STOP=1", "-c", sql],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr.strip()}")
    return out.stdout.strip()


def settle(cluster: ThrowawayCluster, *, limit: float = 300.0) -> None:
    """Let the previous benchmark's background work finish before the next one is timed:
    a checkpoint of what it wrote, then until no autovacuum worker runs (polled, at most
    ``limit`` seconds; a benchmark's own autovacuum, during its run, is its own cost)."""
    began = time.monotonic()
    psql(cluster, "postgres", "checkpoint")
    query = ("select count(*) from pg_stat_activity"
             " where backend_type = 'autovacuum worker'")
    while int(psql(cluster, "postgres", query)) and time.monotonic() - began < limit:
        time.sleep(1)  # polls an observable state; bounded by limit
    waited = time.monotonic() - began
    if waited >= 1:
        print(f"(waited {waited:.0f} s for the benchmark cluster's checkpoint and autovacuum)",
              flush=True)


async def fetchval(dsn: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


# --- server processes ------------------------------------------------------------------


class Process:
    """A child started in its own process group; ``stop()`` ends that group only."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], name: str, *,
                 cwd: Path = REPO) -> None:
        self.name = name
        self.log_path = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")[1])
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            list(argv), env=dict(env), stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=cwd,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout)
        self._log.close()
        with contextlib.suppress(OSError):
            self.log_path.unlink()

    def rss_bytes(self) -> int:
        """Resident memory of the process and its children (granian runs a worker child)."""
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
            return sum(p.memory_info().rss for p in procs if p.is_running())
        except psutil.NoSuchProcess:
            return 0

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the process and its children (granian's worker) have
        used so far."""
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
            return sum(sum(p.cpu_times()[:2]) for p in procs)
        except psutil.NoSuchProcess:
            return 0.0

    def peak_rss_bytes(self) -> int:
        """Largest resident memory ever reached (VmHWM) by the biggest process of the tree."""
        try:
            root = psutil.Process(self.pid)
            pids = [root.pid, *(c.pid for c in root.children(recursive=True))]
        except psutil.NoSuchProcess:
            return 0
        peaks = []
        for pid in pids:
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{pid}/status").read_text()
                match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
                if match:
                    peaks.append(int(match[1]) * 1024)
        return max(peaks, default=0)


def api_env(cluster: ThrowawayCluster, db: str, *, pool: int = 10,
            rate_limits: str = HUGE_RATE_LIMITS, **extra: str) -> dict[str, str]:
    """Environment for our API against ``db`` (authenticator DSN, fixed secret)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PGRST_", "METRICS_RPC_"))}
    env.update({
        "PGRST_DB_URI": cluster.dsn(db, user="authenticator"),
        "PGRST_JWT_SECRET": JWT_SECRET,
        "PGRST_DB_POOL": str(pool),
        "PGRST_SERVER_HOST": "127.0.0.1",
        "PGRST_LOG_LEVEL": "error",
        "METRICS_RPC_RATE_LIMITS": rate_limits,
        **extra,
    })
    return env


def writer_token(sub: str = "bench") -> str:
    from api.config import load_settings
    from api.tokens import mint_token

    settings = load_settings({"PGRST_JWT_SECRET": JWT_SECRET})
    return mint_token(settings, "writer", sub=sub, expires_in=24 * 3600)


def start_server(app: str, server: str, env: Mapping[str, str], *, ready_path: str = "/",
                 timeout: float = 60.0, cwd: Path = REPO,
                 pythonpath: Path | None = None) -> tuple[Process, str]:
    """Start ``app`` ("api" or "minimal") under ``server``; returns it and its base URL.

    ``cwd`` and ``pythonpath`` run the code of another checkout (``bench.ingest_profile
    --baseline``): its ``bench.serve`` and ``api`` are imported instead of ours.
    """
    if server not in SERVERS:
        raise ValueError(f"unknown server {server!r}: one of {', '.join(SERVERS)}")
    port = free_port()
    env = {**env, "PGRST_SERVER_PORT": str(port), "BENCH_PORT": str(port)}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    argv = [PYTHON, "-m", "bench.serve", "--app", app, "--server", server, "--port", str(port)]
    proc = Process(argv, env, f"{app}-{server}", cwd=cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port("127.0.0.1", port, timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(base + ready_path, timeout=5) as resp:
                    if resp.status < 500:
                        break
            except OSError:
                pass
            if not proc.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{app} under {server} did not become ready:\n"
                                   f"{proc.log_tail()}")
            time.sleep(0.2)
    except BaseException:
        proc.stop()
        raise
    return proc, base


@contextlib.contextmanager
def running(app: str, server: str, env: Mapping[str, str], ready_path: str = "/", *,
            cwd: Path = REPO, pythonpath: Path | None = None) -> Iterator[tuple[Process, str]]:
    proc, base = start_server(app, server, env, ready_path=ready_path, cwd=cwd,
                              pythonpath=pythonpath)
    try:
        yield proc, base
    finally:
        proc.stop()


def get(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# --- load generators -------------------------------------------------------------------


@dataclass
class LoadResult:
    """Throughput and latency of one load run."""

    label: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int = 0  # non-2xx responses and socket errors
    extra: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        err = f"  errors {self.errors}" if self.errors else ""
        return (f"{self.label:<44} {self.rps:>9.0f} req/s   p50 {self.p50_ms:>7.2f} ms   "
                f"p99 {self.p99_ms:>7.2f} ms{err}")


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _wrk_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match[1]) * _WRK_UNITS[match[2]]


def run_wrk(label: str, url: str, *, connections: int = 32, duration: float = 10.0,
            threads: int = 1, headers: Mapping[str, str] | None = None,
            timeout: float = 10.0, script: Path | None = None) -> LoadResult:
    """``wrk --latency`` against ``url``; one thread leaves the other core to the server.
    ``script``: a wrk Lua script (e.g. one that varies the request path)."""
    seconds = max(1, round(duration))  # wrk takes whole seconds
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
            f"--timeout={timeout:g}s"]
    if script is not None:
        argv += ["-s", str(script)]
    for key, value in (headers or {}).items():
        argv += ["-H", f"{key}: {value}"]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    p50 = _wrk_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M)[1])  # type: ignore[index]
    p99 = _wrk_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M)[1])  # type: ignore[index]
    total = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(match[1])
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                          out):
        errors += sum(int(g) for g in match.groups())
    result = LoadResult(label, rps, p50, p99, total, errors)
    if errors:
        problem(f"{label}: {errors} non-2xx responses or socket errors")
    return result


def run_pgbench(label: str, cluster: ThrowawayCluster, db: str, sql: str, *,
                clients: int = 32, duration: float = 10.0, threads: int = 1,
                user: str = "postgres") -> LoadResult:
    """pgbench running ``sql`` (prepared) with ``clients`` connections; latency from its log."""
    with tempfile.TemporaryDirectory(prefix="bench-pgbench-") as tmp:
        script = Path(tmp) / "call.sql"
        script.write_text(sql.strip().rstrip(";") + ";\n")
        argv = ["pgbench", "-n", "-h", cluster.host, "-p", str(cluster.port), "-U", user,
                "-M", "prepared", "-c", str(clients), "-j", str(threads), "-T", f"{duration:g}",
                "-f", str(script), "-l", "--log-prefix", str(Path(tmp) / "log"), db]
        result = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=tmp)
        if result.returncode != 0:
            raise RuntimeError(f"pgbench failed: {result.stderr.strip()}")
        tps = float(re.search(r"tps = ([\d.]+)", result.stdout)[1])  # type: ignore[index]
        failed = 0
        if match := re.search(r"number of failed transactions: (\d+)", result.stdout):
            failed = int(match[1])
        latencies: list[float] = []
        for log in Path(tmp).glob("log*"):
            for line in log.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 3:
                    latencies.append(int(parts[2]) / 1000.0)  # µs → ms
    p50, p99 = percentiles(latencies, (50, 99))
    if failed:
        problem(f"{label}: {failed} failed pgbench transactions")
    return LoadResult(label, tps, p50, p99, len(latencies), failed)


def percentiles(values: Sequence[float], points: Sequence[float]) -> list[float]:
    if not values:
        return [float("nan")] * len(points)
    ordered = sorted(values)
    out = []
    for point in points:
        index = min(len(ordered) - 1, max(0, round(point / 100 * len(ordered)) - 1))
        out.append(ordered[index])
    return out


def median_result(label: str, runs: Sequence[LoadResult]) -> LoadResult:
    """Per-figure medians of repeated runs of one configuration."""
    return LoadResult(
        label, median([r.rps for r in runs]), median([r.p50_ms for r in runs]),
        median([r.p99_ms for r in runs]), sum(r.requests for r in runs),
        sum(r.errors for r in runs), {"rounds": len(runs)})


def median_results(runs: Mapping[str, Sequence[LoadResult]]) -> dict[str, LoadResult]:
    """``median_result`` of every configuration; printed when there was more than one round."""
    results = {key: median_result(key, values) for key, values in runs.items()}
    rounds = max((len(values) for values in runs.values()), default=0)
    if rounds > 1:
        heading(f"medians of {rounds} rounds")
        for result in results.values():
            print(result.line())
    return results


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- output ----------------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def heading(text: str) -> None:
    print(f"\n== {text} ==", flush=True)


def machine_notes() -> dict[str, Any]:
    load1, load5, _ = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "loadavg_1m": round(load1, 2),
        "loadavg_5m": round(load5, 2),
        "python": sys.version.split()[0],
    }


_problems: list[str] = []
_phase_start = 0  # problems before this index belong to earlier benchmarks of the process


def problem(message: str) -> None:
    """Record that this run went wrong (failed requests, samples missing): its figures are
    saved marked ``"valid": false`` and the command exits non-zero (``exit_code``)."""
    _problems.append(message)
    print(f"INVALID RUN: {message}", file=sys.stderr, flush=True)


def exit_code() -> int:
    """1 when any problem was recorded in this process, else 0; for ``main``'s return."""
    if _problems:
        print(f"\n{len(_problems)} problem(s): the figures of this run are not valid:\n  "
              + "\n  ".join(_problems), file=sys.stderr)
        return 1
    return 0


def next_phase() -> None:
    """A new benchmark starts in this process (``bench.run_all``): the problems recorded so
    far are not its own. They still count for ``exit_code``."""
    global _phase_start
    _phase_start = len(_problems)


def save_result(bench: str, payload: dict[str, Any]) -> Path:
    """Append one run to bench/results/<bench>.jsonl (gitignored).

    ``valid`` is false, with the ``problems``, when any ``problem`` was recorded since this
    benchmark started (``next_phase``; for a lone benchmark: since the process started).
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{bench}.jsonl"
    own = _problems[_phase_start:]
    record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine_notes(),
              "argv": sys.argv, "valid": not own, "problems": own, **payload}
    with path.open("a") as fh:
        fh.write(json.dumps(record, default=_jsonable) + "\n")
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, LoadResult):
        return asdict(value)
    return str(value)
