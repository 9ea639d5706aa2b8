"""``metrics-rpc serve``: uvicorn (uvloop + httptools) on the API port, plus the admin port,
in one process or in ``METRICS_RPC_WORKERS`` processes sharing the ports.

Shutdown (SIGTERM or SIGINT): ``/ready`` turns 503 at once (the runtime is *draining*),
the API port stops accepting connections (a proxy retries them on another replica), and
requests in flight, streams included, get ``METRICS_RPC_SHUTDOWN_GRACE`` to finish before
they are cancelled; the admin port (``/live``, ``/ready`` = 503) stays up until then. A
second SIGINT stops at once.

Workers: each is its own process with its own event loop, pools, schema-cache listener
and replica health checks, bound to the same ports with ``SO_REUSEPORT`` (the kernel
spreads connections over them). The supervisor (this process) restarts a worker that dies
and passes SIGTERM on to all of them. ``/metrics`` sums the counters and histograms of
every worker (prometheus_client's multiprocess mode, in a folder the supervisor makes).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Generator
from typing import Any

import uvicorn

from api.app import create_admin_app, create_app
from api.config import Settings
from api.request_limits import head_limited_protocol

log = logging.getLogger("metrics_rpc")
_LOG_LEVELS = {"crit": "critical", "error": "error", "warn": "warning", "info": "info",
               "debug": "debug"}
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# the collector's thresholds once serving (CPython's default: 700, 10, 10): 32 requests in
# flight hold a few thousand young objects, so at 700 a collection ran every few requests
# and promoted them all; at 7,000 it runs a few times a minute
GC_THRESHOLDS = (7000, 10, 10)


def uvicorn_config(app: Any, host: str, port: int, settings: Settings) -> uvicorn.Config:
    """uvicorn as we run it (tests too): uvloop, httptools with the request head limits."""
    return uvicorn.Config(
        app, host=host, port=port, loop="uvloop", http=head_limited_protocol(settings),
        lifespan="on", log_level=_LOG_LEVELS.get(settings.log_level, "error"),
        access_log=False, server_header=False, proxy_headers=False,
        # typed int, used as an asyncio timeout: a fraction of a second works
        timeout_graceful_shutdown=max(settings.shutdown_grace.seconds, 0.001),  # type: ignore[arg-type]
    )


def settle_heap() -> None:
    """Once start-up is done: what is alive now (modules, app, schema cache) lives as long
    as the process, so the collector stops scanning it (``gc.freeze``), and the young
    generation is made larger, so the short-lived objects of requests in flight die
    before a collection promotes them. Without this a full collection walked the whole
    start-up heap (~75,000 objects, ~100 ms on this machine) every few seconds under
    load, stalling every request in flight: the API's p99 (docs/PERFORMANCE.md §1)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def _settle_heap_when_serving(runtime: Any) -> None:
    await runtime.serving.wait()
    settle_heap()


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handlers: ``serve_async`` handles them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _listening_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def serve_async(settings: Settings, *, reuse_port: bool = False) -> None:
    app = create_app(settings)
    runtime = app.state.runtime
    host = settings.bind_host
    main = _Server(uvicorn_config(app, host, settings.server_port, settings))
    sockets = [_listening_socket(host, settings.server_port, reuse_port)]
    tasks = [asyncio.create_task(main.serve(sockets=sockets))]
    settling = asyncio.create_task(_settle_heap_when_serving(runtime))
    admin: _Server | None = None
    if settings.admin_server_port:
        admin_config = uvicorn_config(create_admin_app(runtime), host,
                                      settings.admin_server_port, settings)
        admin_config.lifespan = "off"
        admin = _Server(admin_config)
        admin_socket = _listening_socket(host, settings.admin_server_port, reuse_port)
        tasks.append(asyncio.create_task(admin.serve(sockets=[admin_socket])))

    def on_signal(sig: int) -> None:
        if runtime.draining and sig == signal.SIGINT:
            main.force_exit = True
        runtime.draining = True  # /ready: 503 from now on
        main.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # the API port has drained (or a server failed): the admin port goes too
        main.should_exit = True
        if admin is not None:
            admin.should_exit = True
        settling.cancel()
        await asyncio.gather(*tasks, settling, return_exceptions=True)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def _run(settings: Settings, reuse_port: bool) -> None:
    logging.basicConfig(level=logging.INFO if settings.log_level in ("info", "debug")
                        else logging.WARNING)
    try:
        import uvloop

        uvloop.run(serve_async(settings, reuse_port=reuse_port))
    except ImportError:  # pragma: no cover - uvloop is a dependency
        asyncio.run(serve_async(settings, reuse_port=reuse_port))


def serve(settings: Settings) -> None:
    """Run the API until SIGINT/SIGTERM: in this process, or in ``settings.workers``
    worker processes."""
    if settings.workers.count <= 1:
        _run(settings, reuse_port=False)
        return
    Supervisor(settings).run()


def _worker_main(settings: Settings, index: int) -> None:
    os.environ["METRICS_RPC_WORKER"] = str(index)
    _run(settings, reuse_port=True)


class Supervisor:
    """Starts ``settings.workers`` worker processes, restarts one that dies, and passes
    SIGTERM/SIGINT on to all of them (each then drains as above)."""

    RESTART_DELAY = 1.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # spawn: a worker starts from a clean interpreter (no loop or pool copied by fork)
        self._context = multiprocessing.get_context("spawn")
        self._workers: dict[int, Any] = {}
        self._stopping = False

    def run(self) -> None:
        logging.basicConfig(level=logging.INFO)
        metrics_dir = tempfile.mkdtemp(prefix="metrics-rpc-prometheus-")
        os.environ[MULTIPROC_ENV] = metrics_dir  # inherited by the workers
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        try:
            for index in range(self.settings.workers.count):
                self._start(index)
            log.warning("metrics-rpc: %d workers on port %d", self.settings.workers.count,
                        self.settings.server_port)
            while self._workers:
                for index, process in list(self._workers.items()):
                    process.join(0.2)
                    if process.exitcode is None:
                        continue
                    del self._workers[index]
                    if not self._stopping:
                        log.error("worker %d exited (%s): restarting it", index,
                                  process.exitcode)
                        time.sleep(self.RESTART_DELAY)
                        self._start(index)
        finally:
            shutil.rmtree(metrics_dir, ignore_errors=True)

    def _start(self, index: int) -> None:
        process = self._context.Process(target=_worker_main, args=(self.settings, index),
                                        name=f"metrics-rpc-worker-{index}")
        process.start()
        self._workers[index] = process

    def _on_signal(self, sig: int, _frame: Any) -> None:
        self._stopping = True
        for process in self._workers.values():
            if process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, sig)
