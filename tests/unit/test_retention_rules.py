"""Which months expire and how: whole-partition drops only when every site is done."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from leadtrail.lifecycle.rules import Partition, SiteRetention, first_kept_month, plan

TODAY = date(2026, 12, 4)


@pytest.mark.parametrize(
    ("months", "kept_from"),
    [
        (1, date(2026, 11, 1)),
        (3, date(2026, 9, 1)),
        (12, date(2025, 12, 1)),
        (14, date(2025, 10, 1)),
    ],
)
def test_first_kept_month(months: int, kept_from: date) -> None:
    assert first_kept_month(TODAY, months) == kept_from


def site(name: str, months: int | None) -> SiteRetention:
    return SiteRetention(uuid.uuid4(), name, months, archive=False)


def part(month: date, parent: str = "events") -> Partition:
    return Partition(parent, f"{parent}_{month:%Y_%m}", month)


def test_a_month_is_dropped_only_when_every_site_is_done_with_it() -> None:
    short, long = site("short", 2), site("long", 4)
    old, middle, recent = part(date(2026, 6, 1)), part(date(2026, 9, 1)), part(date(2026, 11, 1))
    result = plan([short, long], [old, middle, recent], TODAY)
    assert result.drop == (old,)
    assert result.delete == ((middle, short),)


def test_a_site_that_keeps_everything_keeps_the_partitions() -> None:
    result = plan([site("a", 1), site("forever", None)], [part(date(2020, 1, 1))], TODAY)
    assert result.drop == ()
    assert [s.public_id for _, s in result.delete] == ["a"]


def test_no_sites_no_retention_and_never_the_current_month() -> None:
    assert plan([], [part(date(2020, 1, 1))], TODAY).drop == ()
    assert plan([site("a", 1)], [part(date(2026, 12, 1)), part(date(2027, 1, 1))], TODAY).drop == ()


def test_settings_that_are_not_valid_keep_everything() -> None:
    for value in (0, 121, "3", True, None):
        assert (
            SiteRetention.from_settings(uuid.uuid4(), "x", {"retention_months": value}).months
            is None
        )
