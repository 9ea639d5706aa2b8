"""Which replica serves a read: lag from WAL positions, round robin, read-your-writes
notes (``api.replicas``), without a database: the health-check state is set directly."""

from __future__ import annotations

from typing import Any

from api.replicas import Replica, ReplicaSet


def _set(*states: tuple[bool, int], max_lag: float = 5.0) -> ReplicaSet:
    async def no_pool(_uri: str) -> Any:
        return None

    replicas = ReplicaSet([f"postgresql://r{i}" for i in range(len(states))], "primary",
                          max_lag, no_pool)
    for replica, (up, replay_lsn) in zip(replicas.replicas, states, strict=True):
        replica.up, replica.replay_lsn = up, replay_lsn
    return replicas


def test_reads_go_round_robin_over_usable_replicas() -> None:
    replicas = _set((True, 10), (True, 10))
    picked = [replicas.pick(None) for _ in range(4)]
    assert [r.name for r in picked if r] == ["replica0", "replica1", "replica0", "replica1"]


def test_down_or_lagging_replicas_are_skipped_and_none_means_the_primary() -> None:
    replicas = _set((False, 10), (True, 10), max_lag=1.0)
    assert all((r := replicas.pick(None)) is not None and r.name == "replica1"
               for _ in range(3))
    replicas.replicas[1].lag = 1.5
    assert replicas.pick(None) is None


def test_lag_is_the_age_of_the_oldest_primary_wal_not_replayed() -> None:
    replicas = _set((True, 0))
    replicas._primary_history.extend([(100.0, 50), (102.0, 80), (104.0, 90)])
    assert replicas._lag_of(50, now=105.0) == 3.0  # WAL past 50 first seen at 102
    assert replicas._lag_of(90, now=105.0) == 0.0  # everything replayed: no lag, however
    assert replicas._lag_of(40, now=105.0) == 5.0  # long the primary has been idle


def test_a_client_that_wrote_reads_only_from_a_replica_past_its_write() -> None:
    replicas = _set((True, 100), (True, 200))
    replicas.note_write("sub:alice", 150)
    assert {replicas.pick("sub:alice").name for _ in range(3)} == {"replica1"}  # type: ignore[union-attr]
    replicas.note_write("sub:alice", 250)
    assert replicas.pick("sub:alice") is None
    assert replicas.pick("sub:bob") is not None  # others are not held back


def test_notes_are_forgotten_once_every_replica_has_replayed_them() -> None:
    replicas = _set((True, 300), (True, 300))
    replicas.note_write("sub:alice", 250)
    replicas._forget_replayed()
    assert "sub:alice" not in replicas._notes


def test_replica_usable_needs_up_lag_and_position() -> None:
    replica = Replica("postgresql://r", 0)
    replica.up, replica.lag, replica.replay_lsn = True, 0.5, 10
    assert replica.usable(1.0, 10) and not replica.usable(0.4, 10)
    assert not replica.usable(1.0, 11)


def test_a_page_header_alone_is_not_wal_to_replay() -> None:
    from api.replicas import replayed

    assert replayed(8192 * 3, 8192 * 3 + 24)  # the primary's insert position is past
    assert replayed(8192 * 3, 8192 * 3 + 40)  # the next page's (long) header
    assert not replayed(8192 * 3, 8192 * 3 + 64)  # a record after it
    assert not replayed(8192 * 3 + 8, 8192 * 3 + 32)  # mid-page: every byte counts
