"""Scale-out in one run: workers, read-replica routing, prepared statements off, PgBouncer.

    python -m bench.scale_out                 # 8 s per load, 3 rounds (medians)
    python -m bench.scale_out --duration 15 --rounds 5

One small call (``GET /rpc/get_latest_fdv?p_schema=mainnet`` on the bench database,
32 connections, wrk) against our API started with ``metrics-rpc serve`` in each of these
configurations, interleaved over the rounds so a noisy neighbour hits all of them:

- ``w1``: one worker, primary only, prepared statements on (the reference);
- ``w2``: ``--workers 2``;
- ``replica``: one worker with a streaming standby of the bench cluster in
  ``METRICS_RPC_DB_READ_URIS`` (also printed: the fraction of reads it served, from
  ``/metrics``);
- ``unprepared``: ``PGRST_DB_PREPARED_STATEMENTS=false``, straight to PostgreSQL;
- ``pgbouncer``: the same through a real PgBouncer in transaction pooling mode.

This machine has 2 cores shared by PostgreSQL (primary and standby), wrk and the API, so
the w2/w1 ratio is a floor for what a second core gives on a bigger host, not a ceiling.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import time
from collections.abc import Iterator
from typing import Any

from api.pgcluster import ThrowawayCluster, free_port, wait_for_port
from bench import harness
from tests.api.pgbouncer import running_pgbouncer

DB = "bench_scale_out"
FOLDER = harness.REPO / ".data" / "scale-out"
PATH = "/rpc/get_latest_fdv?p_schema=mainnet"


@contextlib.contextmanager
def api(env: dict[str, str], workers: int = 1, label: str = "") -> Iterator[str]:
    port = free_port()
    admin = free_port()
    argv = [harness.PYTHON, "-m", "api", "serve", "--workers", str(workers)]
    proc = harness.Process(argv, {**env, "PGRST_SERVER_PORT": str(port),
                                  "PGRST_ADMIN_SERVER_PORT": str(admin)}, f"scale-w{workers}")
    try:
        wait_for_port("127.0.0.1", port, 60)
        for _ in range(600):
            with contextlib.suppress(OSError):
                if harness.get(f"http://127.0.0.1:{admin}/ready")[0] == 200:
                    break
            time.sleep(0.1)
        status, body = harness.get(f"http://127.0.0.1:{port}{PATH}")
        if status != 200:
            raise RuntimeError(f"{label or 'api'}: {PATH} → {status}: {body[:200]!r}\n"
                               f"{proc.log_tail()}")
        yield f"http://127.0.0.1:{port}|{admin}"
    finally:
        proc.stop()


def reads_by_target(admin: str) -> dict[str, float]:
    _status, body = harness.get(f"http://127.0.0.1:{admin}/metrics")
    return {m[1]: float(m[2]) for m in re.finditer(
        rb'^metrics_rpc_db_reads_total{target="(\w+)"[^}]*} (\S+)$'.decode(),
        body.decode(), re.M)}


def run(*, duration: float, rounds: int, connections: int, pool: int) -> dict[str, Any]:
    # a cluster of its own: the standby copies a whole cluster, and the benchmark cluster
    # holds the year-long dataset (minutes of copying and I/O for a database of one row)
    cluster = harness.bench_cluster(FOLDER / "pg")
    harness.ensure_database(cluster, DB)
    # the response cache off, as in rpc_throughput: this measures reads of the database
    base_env = harness.api_env(cluster, DB, pool=pool, rate_limits="off",
                               METRICS_RPC_CACHE="off")
    standby_dir = FOLDER / "standby"
    shutil.rmtree(standby_dir, ignore_errors=True)
    standby: ThrowawayCluster = cluster.make_standby(standby_dir)
    standby.start()
    runs: dict[str, list[harness.LoadResult]] = {}
    served: dict[str, float] = {}
    try:
        with contextlib.ExitStack() as stack:
            bouncer_port = stack.enter_context(running_pgbouncer(
                FOLDER / "pgbouncer", cluster.host, cluster.port,
                server_connections=pool))
            bounced_uri = f"postgresql://authenticator@127.0.0.1:{bouncer_port}/{DB}"
            configs = {
                "w1": (base_env, 1),
                "w2": (base_env, 2),
                "replica": ({**base_env, "METRICS_RPC_DB_READ_URIS":
                             standby.dsn(DB, user="authenticator")}, 1),
                "unprepared": ({**base_env, "PGRST_DB_PREPARED_STATEMENTS": "false"}, 1),
                "pgbouncer": ({**base_env, "PGRST_DB_URI": bounced_uri,
                               "PGRST_DB_PREPARED_STATEMENTS": "false",
                               "PGRST_DB_CHANNEL_ENABLED": "false"}, 1),
            }
            for round_no in range(rounds):
                for label, (env, workers) in configs.items():
                    with api(env, workers, label) as where:
                        url, admin = where.split("|")
                        result = harness.run_wrk(f"{label}#{round_no}", url + PATH,
                                                 connections=connections, duration=duration)
                        runs.setdefault(label, []).append(result)
                        if label == "replica":
                            for target, count in reads_by_target(admin).items():
                                served[target] = served.get(target, 0) + count
    finally:
        standby.remove()
    medians = {label: harness.median_result(label, results) for label, results in runs.items()}
    harness.heading(f"scale-out: {PATH}, {connections} connections, medians of {rounds}")
    for result in medians.values():
        print(result.line())
    w1 = medians["w1"].rps
    total_reads = sum(served.values()) or 1.0
    figures = {
        "w2/w1": medians["w2"].rps / w1,
        "replica/w1": medians["replica"].rps / w1,
        "replica share of reads": served.get("replica", 0.0) / total_reads,
        "unprepared/w1": medians["unprepared"].rps / w1,
        "pgbouncer/w1": medians["pgbouncer"].rps / w1,
        "pgbouncer/unprepared": medians["pgbouncer"].rps / medians["unprepared"].rps,
    }
    for name, value in figures.items():
        print(f"  {name:<24} {value:.2f}")
    out = {"duration": duration, "rounds": rounds, "connections": connections, "pool": pool,
           "results": {k: v.__dict__ for k, v in medians.items()}, "figures": figures}
    print(f"saved to {harness.save_result('scale_out', out)}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--pool", type=int, default=10)
    args = parser.parse_args()
    run(duration=args.duration, rounds=args.rounds, connections=args.connections,
        pool=args.pool)
    raise SystemExit(harness.exit_code())


if __name__ == "__main__":
    main()
