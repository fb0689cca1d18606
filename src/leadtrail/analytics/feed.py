"""Raw reads the dashboard needs besides reports: the newest events and calls (first paint
of the live feed and call monitor, then the realtime socket takes over), one session's
journey, and bounded lists of sessions behind a report row. Each reads by index with a
LIMIT; none scans a long range."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from leadtrail.analytics.dimensions import Dimension
from leadtrail.analytics.ranges import DateRange
from leadtrail.errors import BadRequest
from leadtrail.storage import Connection
from leadtrail.storage.queries import load

Q = load(__package__)

#: Drill-downs filter sessions row by row, so their range is bounded.
MAX_DRILLDOWN_DAYS = 31


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _rows(records: list[Any]) -> list[dict[str, Any]]:
    return [{k: jsonable(v) for k, v in dict(r).items()} for r in records]


async def recent_events(
    conn: Connection, site_id: UUID, limit: int = 100, *, include_system: bool = False
) -> list[dict[str, Any]]:
    return _rows(await conn.fetch(Q.recent_events, site_id, limit, include_system))


async def session_events(conn: Connection, site_id: UUID, session_id: UUID) -> list[dict[str, Any]]:
    return _rows(await conn.fetch(Q.session_events, site_id, session_id))


async def recent_calls(
    conn: Connection, site_id: UUID, limit: int = 50, match: str | None = None
) -> list[dict[str, Any]]:
    """Newest first; ``match`` keeps only ``matched`` or ``unmatched`` calls."""
    return _rows(await conn.fetch(Q.recent_calls, site_id, limit, match))


async def drilldown_sessions(
    conn: Connection,
    site_id: UUID,
    span: DateRange,
    dimension: Dimension | None,
    value: str | None,
    *,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    if dimension is not None and span.days > MAX_DRILLDOWN_DAYS:
        raise BadRequest(
            f"filtered session lists cover at most {MAX_DRILLDOWN_DAYS} days",
            code="invalid_range",
            field="from",
        )
    records = await conn.fetch(
        Q.drilldown_sessions,
        site_id,
        span.lower,
        span.upper,
        dimension.name if dimension else None,
        value if dimension else None,
        limit,
        offset,
    )
    return _rows(records)
