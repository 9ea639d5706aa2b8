"""Slow readers against the pool: how long a normal request waits, per send timeout.

    python -m bench.slow_readers

A pool's worth of sockets (pool of 4) with a 1 KiB receive buffer ask for a 200,000-row
streamed result (~25 MB) and never read past the status line; then one normal request
(``get_excluded_addresses``) is timed, for ``METRICS_RPC_SEND_TIMEOUT`` off, 1 s, 5 s (the
default) and 10 s, with ``PGRST_DB_POOL_ACQUISITION_TIMEOUT`` 15 s. Without the send
timeout the request waits out the acquisition timeout (504); with it, it waits about the
send timeout. Also prints the largest streamed chunk (one read of the COPY's output: what
a client must take within the send timeout, plus socket buffers) and so the slowest
client bandwidth the default still serves in full. Figures, not asserts.
"""

from __future__ import annotations

import socket
import time

from bench import harness

POOL = 4
ROWS = 200_000
BIG_SQL = """
create or replace function api.slow_reader_big(p_rows int) returns table (id int, pad text)
language sql stable rows 100000 as $$
    select i, repeat('x', 100) from generate_series(1, p_rows) as i
$$;
grant execute on function api.slow_reader_big(int) to web_anon;
"""
# one get_agg_metric row as the API renders it: a 21-digit value, a timestamp
# a streamed chunk is one read of the COPY's output: at most uvloop's receive buffer
CHUNK_BYTES = 256_000


def slow_reader(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.settimeout(60)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET /rpc/slow_reader_big?p_rows={ROWS} HTTP/1.1\r\nHost: b\r\n\r\n".encode())
    sock.recv(12)  # the status line: the stream (and its transaction) has started
    return sock


def main() -> None:
    cluster = harness.bench_cluster()
    harness.ensure_database(cluster, "bench_slow_readers", fresh=True)
    harness.psql(cluster, "bench_slow_readers", BIG_SQL)
    print(f"pool {POOL}, {POOL} slow readers of {ROWS:,} rows; then one normal request")
    print(f"{'SEND_TIMEOUT':>12} {'status':>6} {'waited s':>9}")
    for timeout in ("0", "1", "5", "10"):
        env = harness.api_env(cluster, "bench_slow_readers", pool=POOL,
                              METRICS_RPC_SEND_TIMEOUT=timeout,
                              PGRST_DB_POOL_ACQUISITION_TIMEOUT="15")
        with harness.running("api", "uvicorn", env) as (_proc, base):
            port = int(base.rsplit(":", 1)[1])
            readers = [slow_reader(port) for _ in range(POOL)]
            started = time.perf_counter()
            status, _ = harness.get(f"{base}/rpc/get_excluded_addresses")
            waited = time.perf_counter() - started
            for sock in readers:
                sock.close()
        print(f"{timeout + ' s' if timeout != '0' else 'off':>12} {status:>6} {waited:9.2f}")
    print(f"one streamed chunk: at most {CHUNK_BYTES / 1024:.0f} KiB (one read of the COPY); to "
          f"take it within the default 5 s a client needs ≥ {CHUNK_BYTES / 5 / 1024:.0f} KiB/s")


if __name__ == "__main__":
    main()
