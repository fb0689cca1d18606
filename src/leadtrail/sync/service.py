"""Applying a batch of source records to PostgreSQL: mirror rows and dead letters in one
transaction, run as the writer role scoped to the site (RLS in force)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from leadtrail.storage import Claims, Connection, Database, DbRole
from leadtrail.sync.changes import Change, Failure, parse_records
from leadtrail.sync.config import TableSpec
from leadtrail.sync.mirror import Applied, Q, apply


def writer_claims(site_id: UUID) -> Claims:
    return Claims(role=DbRole.WRITER, sub="dynamodb-sync", site_ids=(site_id,))


@dataclass
class BatchResult:
    applied: Applied = field(default_factory=Applied)
    failed: int = 0
    #: mirror keys written (upserted or removed), for correlation
    keys: list[tuple[str, ...]] = field(default_factory=list)


async def add_dead_letters(
    conn: Connection, site_id: UUID, source: str, failures: Sequence[Failure]
) -> None:
    if failures:
        await conn.execute(
            Q.add_dead_letters,
            site_id,
            source,
            [f.event_id for f in failures],
            [f.record for f in failures],
            [f.reason for f in failures],
        )


async def apply_in(
    conn: Connection,
    site_id: UUID,
    spec: TableSpec,
    changes: list[Change],
    failures: Sequence[Failure] = (),
) -> BatchResult:
    """Apply inside the caller's transaction (so a checkpoint can join it)."""
    result = BatchResult(failed=len(failures))
    result.applied = await apply(conn, site_id, spec, changes)
    await add_dead_letters(conn, site_id, spec.source, failures)
    result.keys = [c.key for c in changes]
    return result


async def apply_records(
    db: Database,
    site_id: UUID,
    spec: TableSpec,
    records: Sequence[Mapping[str, Any]],
    also: Callable[[Connection], Awaitable[None]] | None = None,
) -> BatchResult:
    """Parse and apply stream records; ``also`` runs in the same transaction (checkpoints)."""
    changes, failures = parse_records(spec, records)
    async with db.transaction(writer_claims(site_id)) as conn:
        result = await apply_in(conn, site_id, spec, changes, failures)
        if also is not None:
            await also(conn)
    return result
