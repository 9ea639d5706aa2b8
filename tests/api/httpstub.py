"""A stub HTTP server for tests: ``http.server`` in a background thread on a free port.

    with httpstub.serving(Handler) as server:
        url = httpstub.url(server)

``QuietHandler`` is a ``BaseHTTPRequestHandler`` that does not log each request to stderr.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    """``handler`` served on 127.0.0.1 (a free port) until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True,
                              name=f"httpstub-{server.server_address[1]}")
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def address(server: ThreadingHTTPServer) -> str:
    """``host:port`` of a stub server."""
    return f"127.0.0.1:{server.server_address[1]}"


def url(server: ThreadingHTTPServer) -> str:
    return f"http://{address(server)}"
