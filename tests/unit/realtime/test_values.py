"""Text values from pgoutput -> JSON values, by type."""

from __future__ import annotations

from typing import Any

import pytest

from leadtrail.realtime.values import BUILTIN, PgType, iso_timestamptz, parse_array, to_json

CASES: list[tuple[int, str, Any]] = [
    (16, "t", True),
    (16, "f", False),
    (21, "-3", -3),
    (20, "9007199254740993", 9007199254740993),
    (701, "1.5", 1.5),
    (701, "NaN", "NaN"),
    (1700, "12.50", 12.5),
    (1700, "42", 42),
    (3802, '{"a": [1, null]}', {"a": [1, None]}),
    (1184, "2026-11-03 10:00:00.5+00", "2026-11-03T10:00:00.5+00:00"),
    (1184, "2026-11-03 10:00:00+05:30", "2026-11-03T10:00:00+05:30"),
    (1114, "2026-11-03 10:00:00", "2026-11-03T10:00:00"),
    (1082, "2026-11-03", "2026-11-03"),
    (2950, "0d4c2f8e-2f1b-4b8e-9a59-3b6f1c7d1e01", "0d4c2f8e-2f1b-4b8e-9a59-3b6f1c7d1e01"),
    (869, "192.168.0.1", "192.168.0.1"),
    (1007, "{1,2,NULL}", [1, 2, None]),
    (1009, '{a,"b \\"c\\"",NULL,"NULL"}', ["a", 'b "c"', None, "NULL"]),
    (1007, "{{1,2},{3,4}}", [[1, 2], [3, 4]]),
    (1007, "{}", []),
    (25, "plain", "plain"),
]


@pytest.mark.parametrize(("oid", "text", "expected"), CASES)
def test_to_json(oid: int, text: str, expected: Any) -> None:
    assert to_json({}, BUILTIN[oid], text) == expected


def test_unknown_types_stay_text() -> None:
    assert to_json({}, PgType(99999, "mood", "E"), "happy") == "happy"


def test_infinity_timestamps_are_kept() -> None:
    assert iso_timestamptz("infinity") == "infinity"


def test_array_with_bounds_and_malformed() -> None:
    assert parse_array("[0:1]={7,8}") == ["7", "8"]
    with pytest.raises(ValueError):
        parse_array("{1,2")
