"""The exemplars of a remote-write request → ``ingest.write_exemplars``, in the request's
transaction (docs/INGEST.md, "Exemplars").

The decoder (:func:`api.ingest.decode._decode_exemplars`) gives each accepted exemplar the
series key its samples get; here those keys become the per-series arrays the database
resolves exactly as it resolves the samples' series (with the ids the samples' write of
the same request returned, so a series costs a primary-key probe), and the counts it
returns become the ``Exemplars-Written`` header and the reasons of a 400.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec

from api.ingest import decode

WRITE_EXEMPLARS_SQL = (
    "select written, duplicates, conflicts, too_old, too_new, refused, new_series "
    "from ingest.write_exemplars($1::text, $2::int8[], $3::text[], $4::text[], $5::int4[], "
    "$6::timestamptz[], $7::float8[], $8::text[], $9::timestamptz, $10::interval, $11::int4)"
)

# the database's counts (by column) → the reason in the 400's message
_REASONS = {
    "conflicts": "duplicate exemplar for series and timestamp with a different value or "
                 "labels (the stored one kept)",
    "too_old": "exemplar older than the retention",
    "too_new": "exemplar too far in the future (METRICS_RPC_INGEST_MAX_FUTURE)",
    "refused": "exemplar of a new series over the limit "
               "(METRICS_RPC_INGEST_MAX_NEW_SERIES_PER_REQUEST / _PER_MINUTE)",
}


class ExemplarsWritten(msgspec.Struct, frozen=True):
    """What the database did with a request's exemplars."""

    written: int = 0  # stored: new or already present (an exact replay)
    rejected: dict[str, int] = {}  # reason → exemplars it refused
    new_series: int = 0  # series registered for exemplars without samples


def series_of(decoded: decode.DecodedWrite) -> tuple[list[decode.SeriesKey], list[int]]:
    """The distinct series of the exemplars, and per exemplar its 1-based position."""
    positions: dict[decode.SeriesKey, int] = {}
    keys: list[decode.SeriesKey] = []
    series = []
    for key in decoded.exemplar_keys:
        index = positions.get(key)
        if index is None:
            keys.append(key)
            index = positions[key] = len(keys)
        series.append(index)
    return keys, series


async def write_exemplars(
    conn: Any, decoded: decode.DecodedWrite, keys: list[decode.SeriesKey], series: list[int],
    known: tuple[str | None, list[int | None]], now: datetime, max_future: timedelta,
    max_new_series: int,
) -> ExemplarsWritten:
    """One ``ingest.write_exemplars`` call on ``conn`` (the request's transaction);
    ``known`` is the routing token and the ids per key the samples' write left in the
    app's series id cache (``SeriesIds.lookup``)."""
    routes, ids = known
    row = await conn.fetchrow(
        WRITE_EXEMPLARS_SQL, routes, ids, [key[0] for key in keys], [key[1] for key in keys],
        series,
        decoded.exemplar_times, decoded.exemplar_values, decoded.exemplar_labels,
        now, max_future, max_new_series,
    )
    written, duplicates = row["written"], row["duplicates"]
    rejected = {reason: row[column] for column, reason in _REASONS.items() if row[column]}
    refused_by_db = len(series) - written - duplicates - sum(rejected.values())
    if refused_by_db:  # cannot happen for what the decoder sends; counted, never hidden
        rejected["exemplar refused by the database"] = refused_by_db
    return ExemplarsWritten(written + duplicates, rejected, row["new_series"])
