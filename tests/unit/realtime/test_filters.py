"""Filter parsing and evaluation: typed comparisons, SQL's NULL logic, clear refusals."""

from __future__ import annotations

from typing import Any

import pytest

from leadtrail.realtime import filters
from leadtrail.realtime.values import BUILTIN

COLUMNS = {
    "status": BUILTIN[25],
    "lead_score": BUILTIN[23],
    "value": BUILTIN[1700],
    "created_at": BUILTIN[1184],
    "converted": BUILTIN[16],
    "id": BUILTIN[2950],
    "meta": BUILTIN[3802],
}
ROW: dict[str, Any] = {
    "status": "Open",
    "lead_score": 45,
    "value": 12.5,
    "created_at": "2026-11-03T10:00:00.25+00:00",
    "converted": False,
    "id": "0d4c2f8e-2f1b-4b8e-9a59-3b6f1c7d1e01",
    "meta": {"a": 1},
}

CASES = [
    ("status=eq.Open", True),
    ("status=eq.open", False),
    ("status=neq.Open", False),
    ("lead_score=gt.9", True),  # numbers, not text ("45" < "9" as text)
    ("lead_score=gte.45", True),
    ("lead_score=lt.45", False),
    ("lead_score=lte.45", True),
    ("value=gt.12.4", True),
    ("lead_score=in.(1,45,99)", True),
    ('status=in.(Closed,"Open")', True),
    ("status=not.in.(Open)", False),
    ("status=like.Op%", True),
    ("status=like.op%", False),
    ("status=ilike.op*", True),
    ("status=like.O_en", True),
    ("created_at=gte.2026-11-03T10:00:00Z", True),
    ("created_at=gt.2026-11-03T11:00:00+01:00", True),  # same instant as 10:00Z, .25 s later
    ("created_at=lt.2026-11-03T10:00:00.250001+00:00", True),
    ("converted=is.false", True),
    ("converted=eq.true", False),
    ("status=is.null", False),
    ("status=not.is.null", True),
    ("id=eq.0D4C2F8E-2F1B-4B8E-9A59-3B6F1C7D1E01", True),  # uuid, any case
    ("lead_score=gt.10,status=eq.Open", True),  # AND
    ("lead_score=gt.10,status=eq.Closed", False),
    ("status=isdistinct.null", True),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_filter_cases(text: str, expected: bool) -> None:
    assert filters.parse(text, COLUMNS).matches(ROW) is expected


@pytest.mark.parametrize(
    "text", ["status=eq.Open", "status=neq.Open", "status=not.eq.Open", "status=in.(a,b)"]
)
def test_null_never_matches_a_comparison(text: str) -> None:
    assert filters.parse(text, COLUMNS).matches({**ROW, "status": None}) is False


def test_missing_row_or_column_does_not_match() -> None:
    f = filters.parse("status=eq.Open", COLUMNS)
    assert f.matches(None) is False
    assert f.matches({"lead_score": 1}) is False  # e.g. an unchanged TOASTed value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("status", "column=operator.value"),
        ("status=eq", "column=operator.value"),
        ("nope=eq.1", "unknown column"),
        ("status=resembles.x", "unknown filter operator"),
        ("lead_score=gt.lots", "lead_score (int4)"),
        ("created_at=gt.noon", "created_at (timestamptz)"),
        ("converted=is.maybe", "is takes"),
        ("lead_score=is.true", "boolean column"),
        ("status=in.a,b", "parentheses"),
        ("status=match.^O", "'match' is not supported"),
        ("status=imatch.^o", "'imatch' is not supported"),
        ("status=like.Op\\", "must not end with the escape character"),
        ("status=eq." + "x" * filters.MAX_LENGTH, "at most 4096 characters"),
        ("meta=eq.{}", "not supported"),
        ("id=eq.123", "id (uuid)"),
    ],
)
def test_refusals_explain_themselves(text: str, reason: str) -> None:
    with pytest.raises(filters.FilterError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        filters.parse(text, COLUMNS)


def test_commas_inside_values_do_not_split_conditions() -> None:
    f = filters.parse('status=in.("a,b",c)', COLUMNS)
    assert len(f.conditions) == 1
    assert f.matches({**ROW, "status": "a,b"}) is True


def test_too_many_conditions_are_refused() -> None:
    with pytest.raises(filters.FilterError, match="at most"):
        filters.parse(",".join(["lead_score=gt.1"] * 17), COLUMNS)
