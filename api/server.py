"""``metrics-rpc serve``: uvicorn (uvloop + httptools) on the API port, plus the admin port."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn

from api.app import create_admin_app, create_app
from api.config import Settings
from api.request_limits import head_limited_protocol

_LOG_LEVELS = {"crit": "critical", "error": "error", "warn": "warning", "info": "info",
               "debug": "debug"}


def uvicorn_config(app: Any, host: str, port: int, settings: Settings) -> uvicorn.Config:
    """uvicorn as we run it (tests too): uvloop, httptools with the request head limits."""
    return uvicorn.Config(
        app, host=host, port=port, loop="uvloop", http=head_limited_protocol(settings),
        lifespan="on", log_level=_LOG_LEVELS.get(settings.log_level, "error"),
        access_log=False, server_header=False, proxy_headers=False,
    )


async def serve_async(settings: Settings) -> None:
    app = create_app(settings)
    host = settings.bind_host
    servers = [uvicorn.Server(uvicorn_config(app, host, settings.server_port, settings))]
    if settings.admin_server_port:
        admin = create_admin_app(app.state.runtime)
        admin_config = uvicorn_config(admin, host, settings.admin_server_port, settings)
        admin_config.lifespan = "off"
        servers.append(uvicorn.Server(admin_config))
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for server in servers:  # one got the signal (or failed): stop the others too
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)


def serve(settings: Settings) -> None:
    """Run the API until SIGINT/SIGTERM."""
    logging.basicConfig(level=logging.INFO if settings.log_level in ("info", "debug")
                        else logging.WARNING)
    try:
        import uvloop

        uvloop.run(serve_async(settings))
    except ImportError:  # pragma: no cover - uvloop is a dependency
        asyncio.run(serve_async(settings))
