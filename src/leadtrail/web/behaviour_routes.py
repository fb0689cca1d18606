"""Behaviour API: friction points, daily friction summary, component performance, session
analytics, click maps (table, grid, SVG) and scroll reach; JSON or CSV. Days are UTC days
(the rollups' unit, docs/behaviour.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from leadtrail.behaviour import reports
from leadtrail.behaviour.records import FRICTION_TYPES
from leadtrail.behaviour.svg import density_svg
from leadtrail.errors import BadRequest
from leadtrail.web.analytics_routes import ReportScope, csv_response
from leadtrail.web.services import services
from leadtrail.web.text_guard import NO_NUL

router = APIRouter(prefix="/api/behaviour", tags=["behaviour"], dependencies=[NO_NUL])
Page = Annotated[str, Query(description="Page path, e.g. /pricing", min_length=1, max_length=400)]
Device = Annotated[
    Literal["", "desktop", "mobile", "tablet", "other"],
    Query(description="Device class ('' = all)"),
]

FRICTION_COLUMNS = [
    "element_path", "element_type", "event_type", "event_count", "affected_sessions",
    "avg_time_to_event", "first_seen", "last_seen", "pages_affected",
]  # fmt: skip


@router.get("/friction", summary="Friction points by element, type and page")
async def friction(
    request: Request,
    scope: ReportScope,
    threshold: Annotated[
        int, Query(ge=0, le=1_000_000, description="Keep rows with more events")
    ] = 10,
    types: Annotated[str | None, Query(description="Comma-separated friction types")] = None,
) -> Any:
    """The seed's ``friction_points``: events, affected sessions, average seconds from the
    session start, first and last seen and the pages, for rows with more than ``threshold``
    events."""
    wanted = tuple(t for t in (types or "").split(",") if t) or FRICTION_TYPES
    unknown = [t for t in wanted if t not in FRICTION_TYPES]
    if unknown:
        raise BadRequest(
            f"unknown friction type {unknown[0]!r}; known: {', '.join(FRICTION_TYPES)}",
            code="invalid_friction_type",
            field="types",
        )
    async with services(request).db.transaction(scope.claims()) as conn:
        rows = await reports.friction_points(
            conn, scope.site.id, scope.span.start, scope.span.end, threshold=threshold, types=wanted
        )
    for row in rows:
        row["pages_affected"] = list(row["pages_affected"])
    if scope.format == "csv":
        flat = [{**r, "pages_affected": " ".join(r["pages_affected"])} for r in rows]
        return csv_response(scope, "friction", FRICTION_COLUMNS, flat)
    return {"threshold": threshold, "rows": rows}


@router.get("/summary", summary="Daily friction summary with average and median hesitation")
async def summary(request: Request, scope: ReportScope) -> Any:
    async with services(request).db.transaction(scope.claims()) as conn:
        rows = await reports.daily_summary(conn, scope.site.id, scope.span.start, scope.span.end)
    if scope.format == "csv":
        return csv_response(scope, "friction-summary", list(rows[0]) if rows else ["date"], rows)
    return {"rows": rows}


@router.get("/components", summary="Component performance (data-lt-component)")
async def components(request: Request, scope: ReportScope) -> Any:
    async with services(request).db.transaction(scope.claims()) as conn:
        rows = await reports.components(conn, scope.site.id, scope.span.start, scope.span.end)
    if scope.format == "csv":
        return csv_response(scope, "components", list(rows[0]) if rows else ["component_id"], rows)
    return {"rows": rows}


@router.get("/sessions", summary="Session analytics (behaviour counters per session)")
async def sessions(
    request: Request,
    scope: ReportScope,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> Any:
    async with services(request).db.transaction(scope.claims()) as conn:
        rows = await reports.sessions(conn, scope.site.id, scope.span.start, scope.span.end, limit)
    for row in rows:
        row["funnels_entered"] = list(row["funnels_entered"])
    if scope.format == "csv":
        flat = [{**r, "funnels_entered": " ".join(r["funnels_entered"])} for r in rows]
        return csv_response(scope, "sessions", list(rows[0]) if rows else ["session_id"], flat)
    return {"rows": rows}


@router.get("/clickmap", summary="Click map of a page: elements and a density grid")
async def clickmap(
    request: Request,
    scope: ReportScope,
    page: Page,
    device: Device = "",
    kind: Annotated[
        Literal["all", "click", "rage_click", "dead_click"], Query(description="Which clicks")
    ] = "all",
    image: Annotated[bool, Query(description="The grid as an SVG image")] = False,
) -> Any:
    types = reports.CLICK_TYPES if kind == "all" else (kind,)
    async with services(request).db.transaction(scope.claims()) as conn:
        result = await reports.click_map(
            conn, scope.site.id, scope.span.start, scope.span.end, page, device=device, types=types
        )
    if image:
        title = f"Clicks on {page} ({result['device']}, {scope.span.start} to {scope.span.end})"
        svg = density_svg(result["cells"], result["columns"], result["rows"], title)
        return Response(svg, media_type="image/svg+xml")
    if scope.format == "csv":
        cols = ["element_path", "element_type", "clicks", "rage_clicks", "dead_clicks"]
        return csv_response(scope, "clickmap", cols, result["elements"])
    return result


@router.get("/scroll", summary="Scroll reach of a page: share of views reaching each depth")
async def scroll(request: Request, scope: ReportScope, page: Page, device: Device = "") -> Any:
    async with services(request).db.transaction(scope.claims()) as conn:
        result = await reports.scroll_reach(
            conn, scope.site.id, scope.span.start, scope.span.end, page, device
        )
    if scope.format == "csv":
        return csv_response(scope, "scroll", ["depth", "views", "share"], result["curve"])
    return result
