"""Serve our API or the minimal reference app under uvicorn or granian (used by harness).

    python -m bench.serve --app api|minimal --server uvicorn|granian --port 3000

Both servers get the same choices: one worker, uvloop, no access log. Our API under
uvicorn runs through ``api.server.serve``, which is what ships; under granian it is the
same app object (``create_app``), built by a factory.
"""

from __future__ import annotations

import argparse
from typing import Any


def api_factory() -> Any:
    """The app exactly as ``api.server.serve_async`` builds it."""
    from api.app import create_app
    from api.config import load_settings

    return create_app(load_settings())


def minimal_factory() -> Any:
    from bench.minimal_app import create_minimal_app

    return create_minimal_app()


FACTORIES = {"api": "bench.serve:api_factory", "minimal": "bench.serve:minimal_factory"}


def _uvicorn(app: str, port: int) -> None:
    if app == "api":  # what ships: api.server.serve (uvloop + httptools, no access log)
        from api.config import load_settings
        from api.server import serve

        serve(load_settings())
        return
    import uvicorn

    uvicorn.run(FACTORIES[app], factory=True, host="127.0.0.1", port=port, loop="uvloop",
                http="httptools", access_log=False, log_level="warning", backlog=2048)


def _granian(app: str, port: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels

    Granian(FACTORIES[app], factory=True, address="127.0.0.1", port=port,
            interface=Interfaces.ASGI, workers=1, loop=Loops.uvloop, backlog=2048,
            log_level=LogLevels.warning, log_access=False).serve()


def main() -> None:
    parser = argparse.ArgumentParser(description="serve the API or the minimal app")
    parser.add_argument("--app", choices=sorted(FACTORIES), default="api")
    parser.add_argument("--server", choices=("uvicorn", "granian"), default="uvicorn")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args()
    if args.server == "granian":
        _granian(args.app, args.port)
    else:
        _uvicorn(args.app, args.port)


if __name__ == "__main__":
    main()
