"""The decoder's copies of the series-identity rules agree with their SQL home
(sql/functions/metrics/00_routing.sql): the value labels, and the decimal rule on the
shared cases that tests/sql/71_series_identity.sql runs through ``metrics.label_number``."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from api.ingest import decode
from tests.pgfixtures import DbInfo

CASES = Path(__file__).resolve().parents[1] / "sql" / "label_number_cases.csv"


def label_number_cases() -> list[tuple[str, str | None]]:
    with CASES.open(newline="") as f:
        return [(row["text"], row["number"] or None) for row in csv.DictReader(f)]


def test_value_labels_are_metrics_value_labels(db: DbInfo) -> None:
    in_sql = db.psql("select array_to_string(metrics.value_labels(), ',')")
    assert tuple(in_sql.split(",")) == decode.BIG_NUMBER_LABELS


@pytest.mark.parametrize(("text", "number"), label_number_cases())
def test_decimal_rule_matches_the_shared_cases(text: str, number: str | None) -> None:
    match = decode._DECIMAL.fullmatch(text)
    assert (match is not None) == (number is not None)
    if number is not None:
        assert Decimal(text.strip()) == Decimal(number)
