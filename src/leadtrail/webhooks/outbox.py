"""The transactional outbox: call ``emit`` inside the transaction that writes the fact."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from leadtrail.storage import Connection
from leadtrail.storage.queries import load
from leadtrail.webhooks.events import plain

Q = load(__package__)


async def emit(
    conn: Connection,
    site_id: UUID,
    event_type: str,
    data: dict[str, Any],
    event_id: UUID | None = None,
) -> None:
    """One outbox row; committed or rolled back with the caller's transaction. A fixed
    ``event_id`` (threshold events) makes a second emission of the same fact a no-op."""
    await conn.execute(Q.emit, site_id, event_id, event_type, plain(data))


async def emit_many(conn: Connection, rows: list[tuple[UUID, UUID, str, dict[str, Any]]]) -> None:
    """Several rows in one statement: ``(site_id, event_id, event_type, data)``."""
    if rows:
        await conn.execute(
            Q.emit_many,
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [plain(r[3]) for r in rows],
        )
