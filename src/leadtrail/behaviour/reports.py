"""Behaviour reports read from the daily rollups: friction points, the daily friction
summary, component performance, session analytics, click maps and scroll reach."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from leadtrail.behaviour.records import FRICTION_TYPES
from leadtrail.storage import Connection
from leadtrail.storage.queries import load

Q = load(__package__)
CLICK_TYPES = ("click", "rage_click", "dead_click")
GRID_COLUMNS, GRID_ROWS = 20, 50
DEPTHS = tuple(range(0, 101, 10))


def _rows(records: Sequence[Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in records]


async def friction_points(
    conn: Connection, site_id: UUID, start: date, end: date, *, threshold: int = 10,
    types: Sequence[str] = FRICTION_TYPES, raw: bool = False,
) -> list[dict[str, Any]]:  # fmt: skip
    query = Q.raw_friction_points if raw else Q.friction_points
    return _rows(await conn.fetch(query, site_id, start, end, list(types), threshold))


async def daily_summary(
    conn: Connection, site_id: UUID, start: date, end: date
) -> list[dict[str, Any]]:
    return _rows(await conn.fetch(Q.daily_summary, site_id, start, end))


async def components(
    conn: Connection, site_id: UUID, start: date, end: date
) -> list[dict[str, Any]]:
    return _rows(await conn.fetch(Q.component_performance, site_id, start, end))


async def sessions(
    conn: Connection, site_id: UUID, start: date, end: date, limit: int = 500
) -> list[dict[str, Any]]:
    lower = datetime.combine(start, time(), UTC)
    upper = datetime.combine(end, time(), UTC) + timedelta(days=1)
    return _rows(await conn.fetch(Q.session_analytics, site_id, lower, upper, limit))


async def click_map(
    conn: Connection, site_id: UUID, start: date, end: date, page: str, *, device: str = "",
    types: Sequence[str] = CLICK_TYPES, raw: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Elements (table) and a density grid over page-relative positions."""
    grid_query = Q.raw_click_grid if raw else Q.click_grid
    cells = await conn.fetch(grid_query, site_id, start, end, page, device, list(types))
    elements = [] if raw else _rows(await conn.fetch(Q.click_elements, site_id, start, end, page))
    return {
        "page": page,
        "device": device or "all",
        "columns": GRID_COLUMNS,
        "rows": GRID_ROWS,
        "cells": [[r["gx"], r["gy"], r["events"]] for r in cells],
        "elements": elements,
    }


async def scroll_reach(
    conn: Connection, site_id: UUID, start: date, end: date, page: str, device: str = ""
) -> dict[str, Any]:
    """Share of page views that reached each depth (0 %, 10 % … 100 %)."""
    counts = {
        r["depth"]: r["views"]
        for r in await conn.fetch(Q.scroll_reach, site_id, start, end, page, device)
    }
    total = sum(counts.values())
    curve = []
    for depth in DEPTHS:
        reached = sum(v for d, v in counts.items() if d >= depth)
        curve.append({"depth": depth, "views": reached, "share": reached / total if total else 0.0})
    return {"page": page, "device": device or "all", "views": total, "curve": curve}
