"""Comparing a DynamoDB table with its mirror: row counts, an order-independent digest on
each side, and the keys that are missing, extra or different.

Each row's digest is BLAKE2b of its item as canonical JSON (sorted keys); a table's
digest is the sum of its rows' digests modulo 2^128, so neither side's order matters.
The source side keeps, per mirror key, the item the mirror should hold (the latest by
the table's version field), exactly as an import would.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson

from leadtrail.storage import Database
from leadtrail.sync.aws import Clients
from leadtrail.sync.changes import latest
from leadtrail.sync.config import TableSpec
from leadtrail.sync.imports import to_changes
from leadtrail.sync.mirror import _q
from leadtrail.sync.service import writer_claims

MOD = 1 << 128
#: keys listed per kind of difference (the counts are always complete)
MAX_LISTED = 1000


def row_digest(item: Any) -> int:
    data = orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
    return int.from_bytes(hashlib.blake2b(data, digest_size=16).digest(), "big")


@dataclass
class Side:
    rows: int = 0
    digest: int = 0
    #: items read (the source may hold several per mirror key)
    items: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "items": self.items, "digest": f"{self.digest:032x}"}


@dataclass
class Report:
    table: str
    target: str
    source: Side = field(default_factory=Side)
    mirror: Side = field(default_factory=Side)
    missing: list[list[str]] = field(default_factory=list)
    extra: list[list[str]] = field(default_factory=list)
    different: list[list[str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        return not any(self.counts.values()) and self.source.digest == self.mirror.digest

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "target": self.target,
            "matches": self.matches,
            "source": self.source.as_dict(),
            "mirror": self.mirror.as_dict(),
            "counts": self.counts,
            "missing": self.missing,
            "extra": self.extra,
            "different": self.different,
        }


def digests_of_items(
    spec: TableSpec, raw_items: Iterable[dict[str, Any]]
) -> tuple[int, dict[tuple[str, ...], int]]:
    """(items read, digest per mirror key) of DynamoDB-JSON items."""
    items = list(raw_items)
    changes, _ = to_changes(spec, items, 0)
    out: dict[tuple[str, ...], int] = {}
    for change in latest(changes):
        assert change.row is not None
        out[change.key] = row_digest(change.row.item)
    return len(items), out


def scan_items(clients: Clients, spec: TableSpec) -> list[dict[str, Any]]:
    client = clients.dynamodb(spec.region)
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": spec.source}
    while True:
        page = client.scan(**kwargs)
        items.extend(page.get("Items", []))
        if not page.get("LastEvaluatedKey"):
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


async def mirror_digests(
    db: Database, site_id: UUID, spec: TableSpec
) -> dict[tuple[str, ...], int]:
    keys = ", ".join(_q(c) for c in spec.key_columns)
    sql = f"SELECT {keys}, item FROM {_q(spec.target)} WHERE site_id = $1 AND deleted_at IS NULL"
    async with db.transaction(writer_claims(site_id)) as conn:
        rows = await conn.fetch(sql, site_id)
    n = len(spec.key)
    return {tuple(r[i] for i in range(n)): row_digest(r["item"]) for r in rows}


def compare(
    spec: TableSpec,
    items: int,
    source: dict[tuple[str, ...], int],
    mirror: dict[tuple[str, ...], int],
) -> Report:
    report = Report(spec.source, spec.target)
    report.source = Side(len(source), sum(source.values()) % MOD, items)
    report.mirror = Side(len(mirror), sum(mirror.values()) % MOD, len(mirror))
    missing = sorted(k for k in source if k not in mirror)
    extra = sorted(k for k in mirror if k not in source)
    different = sorted(k for k in source if k in mirror and source[k] != mirror[k])
    report.counts = {"missing": len(missing), "extra": len(extra), "different": len(different)}
    report.missing = [list(k) for k in missing[:MAX_LISTED]]
    report.extra = [list(k) for k in extra[:MAX_LISTED]]
    report.different = [list(k) for k in different[:MAX_LISTED]]
    return report


async def checksum(db: Database, clients: Clients, site_id: UUID, spec: TableSpec) -> Report:
    """Scan the DynamoDB table and compare it with the site's mirror."""
    raw = await asyncio.to_thread(scan_items, clients, spec)
    count, source = await asyncio.to_thread(digests_of_items, spec, raw)
    return compare(spec, count, source, await mirror_digests(db, site_id, spec))
