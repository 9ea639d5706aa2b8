"""Read replicas (``METRICS_RPC_DB_READ_URIS``): which one serves a read, if any.

PostgreSQL's own streaming replicas serve GET/HEAD calls of non-volatile functions; the
primary serves everything else (POST, VOLATILE functions, remote write, the schema cache
and its LISTEN). The transaction stage asks ``ReplicaSet.pick`` for a pool and falls
back to the primary when it gets none, so a client never sees a replica's trouble.

Health and lag, checked in the background every ``CHECK_SECONDS`` per replica:

* A replica that cannot be reached, or whose check fails, is *down* until a check
  succeeds again. A read that meets a broken replica connection marks it down at once
  (and is retried on the primary).
* Lag is measured in WAL, not in time since the last replayed transaction (that grows on
  an idle primary although nothing is missing): each round samples the primary's
  ``pg_current_wal_insert_lsn()`` (the write position may trail a commit made with
  ``synchronous_commit = off``); a replica's lag is how long ago the primary first had WAL the
  replica has not replayed (``pg_last_wal_replay_lsn()``), 0 when it has replayed all of
  it. Over ``METRICS_RPC_DB_REPLICA_MAX_LAG`` the replica is skipped. The samples are
  taken every round, so a lag is known to within ``CHECK_SECONDS``.

Read-your-writes by LSN: after a client's own write (a POST to a VOLATILE function,
remote write) the transaction stage notes the primary's WAL position after the commit
under the client's key (the JWT ``sub``, else the token's claims); that client's reads
go only to a replica whose last checked replay position is at or past it, else to the
primary. The note is dropped once every replica has replayed past it. Notes live in the
process: with several workers or API replicas a client's next read may reach a process
that did not see the write (see docs/SCALING.md).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

log = logging.getLogger("metrics_rpc")

CHECK_SECONDS = 0.5
MAX_NOTES = 100_000  # read-your-writes notes kept per process (oldest dropped first)
_LSN = "(pg_current_wal_insert_lsn() - '0/0')::int8"
PRIMARY_LSN_SQL = f"select {_LSN}"
REPLICA_STATE_SQL = (
    "select pg_is_in_recovery(), (coalesce(pg_last_wal_replay_lsn(), '0/0') - '0/0')::int8"
)
_CONNECT_ERRORS = (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
WAL_PAGE = 8192  # wal_block_size (PostgreSQL's default)
WAL_PAGE_HEADER = 40  # at most (a segment's first page has the long header)


def replayed(replay_lsn: int, lsn: int) -> bool:
    """Has a replica at ``replay_lsn`` replayed the WAL up to ``lsn``? The insert position
    of a primary whose last record ended at a page boundary already counts the next
    page's header, which no replica replays until another record follows."""
    return replay_lsn >= lsn or (
        replay_lsn % WAL_PAGE == 0 and lsn - replay_lsn <= WAL_PAGE_HEADER
    )


class Replica:
    """One read replica: its pool and what the last health check found."""

    def __init__(self, uri: str, index: int) -> None:
        self.uri = uri
        self.name = f"replica{index}"
        self.pool: asyncpg.Pool | None = None
        self.up = False
        self.lag = 0.0  # seconds behind the primary, as of the last check
        self.replay_lsn = 0  # WAL position replayed, as of the last check
        self.in_recovery = True

    def usable(self, max_lag: float, min_lsn: int) -> bool:
        return self.up and self.lag <= max_lag and replayed(self.replay_lsn, min_lsn)


class ReplicaSet:
    """The replicas of ``uris``, their pools and health checks; ``pick`` chooses one."""

    def __init__(
        self, uris: Sequence[str], primary_uri: str, max_lag: float,
        make_pool: Callable[[str], Any], connect_kwargs: dict[str, Any] | None = None,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self.replicas = [Replica(uri, i) for i, uri in enumerate(uris)]
        self.max_lag = max_lag
        self._primary_uri = primary_uri
        self._make_pool = make_pool
        self._connect_kwargs = connect_kwargs or {}
        self._check_seconds = check_seconds
        self._next = 0
        # (monotonic time first seen, primary WAL position), increasing positions
        self._primary_history: collections.deque[tuple[float, int]] = collections.deque(
            maxlen=10_000
        )
        self._notes: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._task: asyncio.Task[None] | None = None

    def __bool__(self) -> bool:
        return bool(self.replicas)

    async def start(self) -> None:
        for replica in self.replicas:
            replica.pool = await self._make_pool(replica.uri)
        if self.replicas:
            self._task = asyncio.create_task(self._check_forever(), name="replica-health")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for replica in self.replicas:
            if replica.pool is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(replica.pool.close(), 5)
                replica.pool = None

    # --- routing ------------------------------------------------------------------------

    def pick(self, client: str | None) -> Replica | None:
        """A usable replica (round robin) that has replayed the client's last write, or
        None: the primary serves."""
        min_lsn = self._notes.get(client, 0) if client is not None else 0
        count = len(self.replicas)
        for step in range(count):
            replica = self.replicas[(self._next + step) % count]
            if replica.usable(self.max_lag, min_lsn):
                self._next = (self._next + step + 1) % count
                return replica
        return None

    def mark_down(self, replica: Replica) -> None:
        if replica.up:
            log.warning("read replica %s is unreachable: reads go to the primary", replica.name)
        replica.up = False

    def note_write(self, client: str, lsn: int) -> None:
        """``client`` wrote; its reads need a replica at WAL position ``lsn`` or later."""
        self._notes[client] = lsn
        self._notes.move_to_end(client)
        while len(self._notes) > MAX_NOTES:
            self._notes.popitem(last=False)

    # --- health -------------------------------------------------------------------------

    async def _check_forever(self) -> None:
        connections: dict[str, Any] = {}
        try:
            while True:
                await self.check(connections)
                await asyncio.sleep(self._check_seconds)
        finally:
            for conn in connections.values():
                with contextlib.suppress(Exception):
                    conn.terminate()

    async def check(self, connections: dict[str, Any]) -> None:
        """One round: the primary's WAL position, then each replica's state and lag."""
        now = time.monotonic()
        primary_lsn = await self._fetch(connections, self._primary_uri, PRIMARY_LSN_SQL)
        if primary_lsn is not None:
            value = int(primary_lsn[0])
            if not self._primary_history or value > self._primary_history[-1][1]:
                self._primary_history.append((now, value))
        for replica in self.replicas:
            row = await self._fetch(connections, replica.uri, REPLICA_STATE_SQL)
            if row is None:
                self.mark_down(replica)
                continue
            replica.in_recovery, replica.replay_lsn = bool(row[0]), int(row[1])
            if not replica.in_recovery:  # a promoted replica (or the primary itself)
                replica.lag = 0.0
            elif primary_lsn is not None:
                replica.lag = self._lag_of(replica.replay_lsn, now)
            if not replica.up:
                log.warning("read replica %s is up (lag %.1fs)", replica.name, replica.lag)
            replica.up = True
        self._forget_replayed()

    def _lag_of(self, replay_lsn: int, now: float) -> float:
        """How long ago the primary first had WAL past ``replay_lsn`` (0: none)."""
        for seen, lsn in self._primary_history:
            if not replayed(replay_lsn, lsn):
                return now - seen
        return 0.0

    def _forget_replayed(self) -> None:
        up = [r.replay_lsn for r in self.replicas if r.up and r.in_recovery]
        if not up:
            return
        slowest = min(up)
        history = self._primary_history
        while len(history) > 1 and replayed(slowest, history[0][1]):
            history.popleft()
        if all(r.up for r in self.replicas):
            for client in [c for c, lsn in self._notes.items() if replayed(slowest, lsn)]:
                del self._notes[client]

    async def _fetch(self, connections: dict[str, Any], uri: str, sql: str) -> Any:
        conn = connections.get(uri)
        try:
            if conn is None or conn.is_closed():
                conn = connections[uri] = await asyncpg.connect(
                    uri, timeout=max(self._check_seconds * 4, 2.0), **self._connect_kwargs
                )
            return await conn.fetchrow(sql, timeout=max(self._check_seconds * 4, 2.0))
        except _CONNECT_ERRORS as exc:
            log.debug("health check of %s failed: %s", uri, exc)
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.terminate()
            connections.pop(uri, None)
            return None
