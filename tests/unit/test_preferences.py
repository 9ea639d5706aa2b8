"""api/rpc/preferences.py: ``Prefer`` as a typed value that renders ``Preference-Applied``."""

from __future__ import annotations

import pytest

from api.errors import InvalidPreferences
from api.rpc.preferences import Preferences, parse_prefer


def test_parse_known_preferences() -> None:
    assert parse_prefer(None) == Preferences()
    assert parse_prefer("count=exact, tx=rollback, handling=lenient") == Preferences(
        count="exact", tx="rollback", handling="lenient")
    assert parse_prefer("Count=Planned").count == "planned"
    assert parse_prefer("return=representation, bogus").count is None


def test_strict_handling_refuses_unknown_preferences() -> None:
    with pytest.raises(InvalidPreferences) as info:
        parse_prefer("handling=strict, bogus=1, count=sometimes")
    assert info.value.details == "Invalid preferences: bogus=1, count=sometimes"
    assert parse_prefer("handling=strict, return=minimal").handling == "strict"


def test_applied_names_only_what_was_done() -> None:
    assert Preferences().applied(rollback=False) is None
    assert Preferences(count="exact").applied(rollback=False) == "count=exact"
    # planned and estimated are counted exactly, so they are not claimed
    assert Preferences(count="planned").applied(rollback=False) is None
    assert Preferences(count="estimated").wants_count
    # tx= only when the transaction really ended that way
    assert Preferences(tx="rollback").applied(rollback=True) == "tx=rollback"
    assert Preferences(tx="rollback").applied(rollback=False) is None
    assert Preferences(tx="commit").applied(rollback=False) == "tx=commit"
    both = Preferences(count="exact", tx="rollback", handling="strict")
    assert both.applied(rollback=True) == "count=exact, tx=rollback, handling=strict"


def test_max_affected_is_enforced_only_with_handling_strict() -> None:
    strict = parse_prefer("handling=strict, max-affected=10")
    assert (strict.max_affected, strict.strict_max_affected) == (10, 10)
    assert strict.applied(rollback=False) == "handling=strict, max-affected=10"
    lenient = parse_prefer("max-affected=10")
    assert (lenient.max_affected, lenient.strict_max_affected) == (10, None)
    assert lenient.applied(rollback=False) is None
