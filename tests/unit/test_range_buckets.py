"""``api.rpc.query.range_buckets``: the estimate that lets a large range skip the probe."""

from __future__ import annotations

import pytest

from api.rpc.query import range_buckets

WEEK = ("2026-01-01T00:00:00+00:00", "2026-01-08T00:00:00+00:00")


@pytest.mark.parametrize(("interval", "buckets"), [
    ("1 hour", 169), ("1 minute", 10_081), ("2 hours", 85), ("1 day", 8), ("1 week", 2),
    ("30 mins", 337), ("1h", 169), (" 1 Hour ", 169),
])
def test_buckets_of_simple_intervals(interval: str, buckets: int) -> None:
    assert range_buckets(*WEEK, interval) == buckets


@pytest.mark.parametrize("interval", ["1 month", "01:00:00", "PT1H", "0 hours", "hour", ""])
def test_other_intervals_are_unknown(interval: str) -> None:
    assert range_buckets(*WEEK, interval) is None


def test_unparsable_or_mixed_timestamps_are_unknown() -> None:
    assert range_buckets("yesterday", WEEK[1], "1 hour") is None
    assert range_buckets("2026-01-01T00:00:00", WEEK[1], "1 hour") is None


def test_a_reversed_range_has_one_bucket_at_most() -> None:
    assert range_buckets(WEEK[1], WEEK[0], "1 hour") == 1
