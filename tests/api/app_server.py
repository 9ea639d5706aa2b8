"""The real app on a real port (uvicorn in a background thread), for the hardening tests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from api.config import Settings
from tests.api.redis_server import free_port


@contextmanager
def running_app(
    settings: Settings, *, ready_timeout: float = 30.0, **app_kwargs: Any
) -> Iterator[str]:
    """Serve ``create_app(settings)`` on a free port; yield its base URL once ``/ready``."""
    port = free_port()
    app = create_app(settings, **app_kwargs)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, loop="asyncio", lifespan="on",
        log_level="warning", access_log=False, proxy_headers=False,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the app did not become ready")
            time.sleep(0.05)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
