"""api/server.py: what ``serve`` does to the process once it serves."""

from __future__ import annotations

import gc

from api.server import GC_THRESHOLDS, settle_heap


def test_settle_heap_freezes_what_is_alive_and_enlarges_the_young_generation() -> None:
    before = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0  # start-up objects are no longer scanned
        assert gc.get_threshold() == GC_THRESHOLDS
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
