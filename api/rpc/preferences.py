"""The ``Prefer`` header as a typed value that renders its own ``Preference-Applied``
(PostgREST's ``ApiRequest/Preferences.hs``). Pure."""

from __future__ import annotations

from typing import Literal

import msgspec

from api.errors import InvalidPreferences

Count = Literal["exact", "planned", "estimated"]
# accepted and without effect on a function call
_IGNORED = frozenset(("return", "timezone", "missing", "resolution", "params"))


class Preferences(msgspec.Struct, frozen=True):
    count: Count | None = None
    tx: Literal["commit", "rollback"] | None = None
    handling: Literal["strict", "lenient"] | None = None
    max_affected: int | None = None  # max-affected=N; enforced only with handling=strict

    @property
    def strict_max_affected(self) -> int | None:
        """The row limit to enforce: PostgREST ignores ``max-affected`` unless strict."""
        return self.max_affected if self.handling == "strict" else None

    @property
    def wants_count(self) -> bool:
        """Any ``count=``: the total is counted exactly (planned and estimated counts are
        not implemented, so they are counted exactly too, and not claimed as applied)."""
        return self.count is not None

    def applied(self, *, rollback: bool, tx: bool = True) -> str | None:
        """``Preference-Applied``: only what this request did as asked. ``tx=`` appears
        when ``tx`` (``PGRST_DB_TX_END`` lets the preference decide) and the transaction
        ended that way."""
        parts: list[str] = []
        if self.count == "exact":
            parts.append("count=exact")
        if tx and self.tx is not None and (self.tx == "rollback") == rollback:
            parts.append(f"tx={self.tx}")
        if self.handling is not None:
            parts.append(f"handling={self.handling}")
        if self.strict_max_affected is not None:
            parts.append(f"max-affected={self.strict_max_affected}")
        return ", ".join(parts) or None


def parse_prefer(header: str | None) -> Preferences:
    """``Prefer: count=exact, tx=rollback, handling=strict``; unknown preferences are
    ignored, or 400 ``PGRST122`` with ``handling=strict``."""
    if not header:
        return Preferences()
    count: Count | None = None
    tx: Literal["commit", "rollback"] | None = None
    handling: Literal["strict", "lenient"] | None = None
    max_affected: int | None = None
    unknown: list[str] = []
    for raw in header.split(","):
        pref = raw.strip()
        if not pref:
            continue
        key, _, value = pref.partition("=")
        key, value = key.strip().lower(), value.strip().lower()
        if key == "count" and value in ("exact", "planned", "estimated"):
            count = value  # type: ignore[assignment]
        elif key == "tx" and value in ("commit", "rollback"):
            tx = value  # type: ignore[assignment]
        elif key == "handling" and value in ("strict", "lenient"):
            handling = value  # type: ignore[assignment]
        elif key == "max-affected" and value.isdigit():
            max_affected = int(value)
        elif key not in _IGNORED:
            unknown.append(pref)
    if handling == "strict" and unknown:
        raise InvalidPreferences(unknown)
    return Preferences(count, tx, handling, max_affected)
