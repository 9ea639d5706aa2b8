"""The data version the response cache keys on, and the notices that a write changed it.

Writes bump ``metrics_rpc.data_versions`` in their own transaction (migration 0080) and
``NOTIFY metrics_rpc_data``. A replica learns of a write in two ways:

- ``token()``: the data token (the view ``metrics_rpc_cache.data_token``, a hash of every
  domain's version, migration 0081) of the primary, read on this watcher's own connection
  by a probe that *starts after* the call. Any committed bump changes it, so a request
  that arrives after a remote write's 204 gets a token that includes it, on every replica,
  whatever happened to the notices. Concurrent callers share one probe (at most one is in
  flight; those arriving meanwhile share the next), so a burst of hits costs one round
  trip on one connection, not one query each. (A cached answer carries the token its own
  query read in its own snapshot, wherever it ran: see ``api.cache.response_cache``.)
- the ``NOTIFY``: memory is freed at once (``on_change``), a new token is read, and the
  notice's lag is measured. A lost connection cannot leave stale data: without a
  connection the cache is bypassed; on reconnect everything is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import asyncpg

from api.observability import CacheInvalidated

log = logging.getLogger("metrics_rpc")
CHANNEL = "metrics_rpc_data"
TOKEN_SQL = "select token from metrics_rpc_cache.data_token"  # noqa: S105 (not a password)
# the token or its table is missing: the database is not migrated (0080/0081)
_NOT_MIGRATED = (asyncpg.UndefinedTableError, asyncpg.UndefinedFunctionError,
                 asyncpg.InvalidSchemaNameError)
PROBE_TIMEOUT = 2.0  # seconds: a probe slower than this bypasses the cache for its callers
_CONNECTION_ERRORS = (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


class DataVersions:
    """LISTENs on ``metrics_rpc_data`` and answers ``token()`` on one dedicated connection."""

    PING_SECONDS = 5.0

    def __init__(self, db_uri: str, on_change: Callable[[tuple[str, ...]], None],
                 on_event: Callable[[Any], None], clock: Callable[[], float] = time.time) -> None:
        self._db_uri = db_uri
        self._on_change = on_change
        self._on_event = on_event
        self._clock = clock
        self._conn: Any = None
        self._next: asyncio.Future[int | None] | None = None  # the probe not yet started
        self._prober: asyncio.Task[None] | None = None
        self._refresh: asyncio.Future[int | None] | None = None
        self._lost = asyncio.Event()
        self._missing = False  # the last connection found the database not migrated

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def token(self) -> int | None:
        """The data version as of a moment after this call; ``None`` when unknown."""
        if not self.connected:
            return None
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        next_token = self._next
        if self._prober is None or self._prober.done():  # nobody would answer it otherwise
            self._prober = asyncio.create_task(self._probe_loop(), name="data-version-probe")
        return await asyncio.shield(next_token)

    async def _probe_loop(self) -> None:
        while self._next is not None:
            waiting, self._next = self._next, None  # from here on, callers wait for the next
            token: int | None = None
            try:
                if self.connected:
                    token = int(await self._conn.fetchval(TOKEN_SQL, timeout=PROBE_TIMEOUT))
            except _NOT_MIGRATED:  # dropped while running: reconnect, look again
                self._lost.set()
            except _CONNECTION_ERRORS as exc:
                log.warning("response cache: data version probe failed: %s", exc)
                self._lost.set()
            except Exception:  # e.g. asyncpg's InternalClientError while the server goes away
                log.exception("response cache: data version probe failed")
                self._lost.set()
            finally:  # every waiter gets an answer: None (unknown) means bypass, never a hang
                waiting.set_result(token)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        stamp, _, domains = payload.partition(" ")
        try:
            lag: float | None = self._clock() - float(stamp)
        except ValueError:
            lag = None
        changed = tuple(d for d in domains.split(",") if d)
        self._refresh = asyncio.ensure_future(self.token())
        self._on_change(changed)
        self._on_event(CacheInvalidated(changed, lag))

    async def run(self) -> None:
        backoff = 0.25
        while True:
            try:
                conn = await asyncpg.connect(
                    self._db_uri, timeout=5,
                    server_settings={"application_name": "metrics-rpc data versions"})
            except _CONNECTION_ERRORS as exc:
                log.warning("response cache: cannot listen for data changes: %s", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.25
            self._lost = lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            try:
                await conn.add_listener(CHANNEL, self._on_notify)
                # a database without the token (not migrated) is never used: calls would
                # fail reading it, so the cache stays bypassed until a later look finds it
                await conn.fetchval(TOKEN_SQL, timeout=PROBE_TIMEOUT)
                self._missing = False
                self._conn = conn
                # whatever changed while we were not listening: drop it all
                self._on_change(())
                self._on_event(CacheInvalidated(()))
                await self.token()  # entries computed from now on carry a token
                while not lost.is_set() and not conn.is_closed():
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(lost.wait(), self.PING_SECONDS)
                    if not lost.is_set():
                        await self.token()  # a probe doubles as the keep-alive
            except _NOT_MIGRATED:
                log.error("response cache: the view metrics_rpc_cache.data_token is missing "
                          "(run `metrics-rpc migrate`); the cache is bypassed")
                self._missing = True
            except _CONNECTION_ERRORS as exc:
                log.warning("response cache: data change listener lost: %s", exc)
            finally:
                self._conn = None
                with contextlib.suppress(Exception):
                    conn.terminate()
            if self._missing:  # not migrated yet: look again now and then, not in a loop
                await asyncio.sleep(5.0)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)
