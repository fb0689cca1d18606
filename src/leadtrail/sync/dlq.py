"""The dead-letter queue: records that failed to transform, kept whole with the reason,
listed, retried against the current configuration, or dropped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from leadtrail.storage import Database
from leadtrail.sync.changes import Change, change_from_item, change_from_record
from leadtrail.sync.config import SyncConfig
from leadtrail.sync.mirror import Q, apply
from leadtrail.sync.service import writer_claims
from leadtrail.sync.transform import TransformError, unmarshal


@dataclass(frozen=True)
class DeadLetter:
    id: int
    source_table: str
    event_id: str | None
    reason: str
    attempts: int
    created_at: datetime
    record: dict[str, Any]


def import_record(item: dict[str, Any], snapshot_ms: int) -> dict[str, Any]:
    """How an item from a Scan or an export file is kept in the queue."""
    return {"Item": item, "snapshot_ms": snapshot_ms}


def _change(config: SyncConfig, source: str, record: dict[str, Any]) -> Change:
    spec = config.table(source)
    if "Item" in record and "dynamodb" not in record:
        item = record["Item"]
        if not isinstance(item, dict):
            raise TransformError("Item is not an object")
        return change_from_item(spec, unmarshal(item), int(record.get("snapshot_ms", 0)))
    return change_from_record(spec, record)


async def list_letters(
    db: Database, site_id: UUID, table: str | None, limit: int
) -> list[DeadLetter]:
    async with db.transaction(writer_claims(site_id)) as conn:
        rows = await conn.fetch(Q.list_dead_letters, site_id, table, limit)
    return [DeadLetter(**dict(r)) for r in rows]


async def retry(
    db: Database, config: SyncConfig, site_id: UUID, ids: Sequence[int] | None
) -> tuple[int, int]:
    """Re-apply dead letters (all when ``ids`` is None); returns (applied, still failing)."""
    ok = failing = 0
    async with db.transaction(writer_claims(site_id)) as conn:
        rows = await conn.fetch(Q.take_dead_letters, site_id, list(ids) if ids else None)
        done: list[int] = []
        for row in rows:
            try:
                change = _change(config, row["source_table"], row["record"])
            except TransformError as exc:
                failing += 1
                await conn.execute(Q.retried_dead_letter, site_id, row["id"], str(exc))
                continue
            await apply(conn, site_id, config.table(row["source_table"]), [change])
            done.append(row["id"])
            ok += 1
        if done:
            await conn.execute(Q.drop_dead_letters, site_id, done)
    return ok, failing


async def drop(db: Database, site_id: UUID, ids: Sequence[int] | None) -> int:
    async with db.transaction(writer_claims(site_id)) as conn:
        status = await conn.execute(Q.drop_dead_letters, site_id, list(ids) if ids else None)
    return int(status.rsplit(" ", 1)[-1])
