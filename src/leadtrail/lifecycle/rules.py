"""Which months expire, and how (pure).

Monthly partitions are shared by every site, so a partition is detached and dropped only
when every site's retention has passed its month; until then, a site whose own retention
has passed loses its rows of that month by a delete (the one case that is not a partition
drop). A site without a retention setting keeps everything, and so keeps the partitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

MAX_RETENTION_MONTHS = 120


@dataclass(frozen=True)
class SiteRetention:
    site_id: UUID
    public_id: str
    #: months of data kept before the current one; None keeps everything
    months: int | None
    archive: bool

    @classmethod
    def from_settings(
        cls, site_id: UUID, public_id: str, settings: Mapping[str, Any]
    ) -> SiteRetention:
        months = settings.get("retention_months")
        valid = (
            isinstance(months, int)
            and not isinstance(months, bool)
            and 1 <= months <= MAX_RETENTION_MONTHS
        )
        return cls(
            site_id, public_id, months if valid else None, settings.get("retention_archive") is True
        )


@dataclass(frozen=True)
class Partition:
    parent: str
    name: str
    month: date


@dataclass(frozen=True)
class Plan:
    #: partitions every site is done with: archived (for sites that ask) then dropped
    drop: tuple[Partition, ...]
    #: (partition, site) pairs whose rows go by delete (archived first if the site asks)
    delete: tuple[tuple[Partition, SiteRetention], ...]


def first_kept_month(today: date, months: int) -> date:
    """With ``months`` = 3 on 2026-12-04: 2026-09-01 (September to December are kept)."""
    index = today.year * 12 + today.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def expired(site: SiteRetention, month: date, today: date) -> bool:
    return site.months is not None and month < first_kept_month(today, site.months)


def plan(sites: Iterable[SiteRetention], partitions: Iterable[Partition], today: date) -> Plan:
    sites = list(sites)
    drop: list[Partition] = []
    delete: list[tuple[Partition, SiteRetention]] = []
    for part in partitions:
        done = [s for s in sites if expired(s, part.month, today)]
        if sites and len(done) == len(sites):
            drop.append(part)
        else:
            delete.extend((part, s) for s in done)
    return Plan(tuple(drop), tuple(delete))
