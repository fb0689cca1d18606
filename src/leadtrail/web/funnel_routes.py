"""Funnels API: define, list, change and delete funnels; their report (JSON or CSV) with a
breakdown by channel, device or campaign."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Path, Query, Request

from leadtrail.auth.principal import Access
from leadtrail.errors import NotFound
from leadtrail.funnels import service
from leadtrail.web.analytics_routes import ReportScope, csv_response
from leadtrail.web.deps import CurrentPrincipal
from leadtrail.web.services import services
from leadtrail.web.site_scope import resolve_site
from leadtrail.web.text_guard import NO_NUL

router = APIRouter(prefix="/api/funnels", tags=["funnels"], dependencies=[NO_NUL])
SiteRef = Annotated[str, Query(description="Site uuid or public id", max_length=64)]
FunnelId = Annotated[str, Path(max_length=64)]
Definition = Annotated[
    dict[str, Any],
    Body(
        description="name, steps [{kind: page|event|lead|call|experiment, name, url, category, "
        "action, label, experiment}], window_seconds, order (strict|any), count_by (session|person)"
    ),
]


def _funnel_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise NotFound("no such funnel", code="funnel_not_found") from None


@router.get("", summary="The site's funnels")
async def list_funnels(request: Request, principal: CurrentPrincipal, site_id: SiteRef) -> Any:
    db = services(request).db
    site = await resolve_site(db, principal, site_id, Access.READ)
    async with db.transaction(principal.claims(site.id)) as conn:
        return [f.as_json() for f in await service.list_funnels(conn, site.id)]


@router.post("", status_code=201, summary="Define a funnel")
async def create_funnel(
    request: Request, principal: CurrentPrincipal, site_id: SiteRef, body: Definition
) -> Any:
    svc = services(request)
    site = await resolve_site(svc.db, principal, site_id, Access.MANAGE)
    async with svc.db.transaction(principal.claims(site.id, need=Access.MANAGE)) as conn:
        stored = await service.create_funnel(conn, site.id, body)
    await service.FunnelJob(svc.db).rebuild_funnel(site.id, stored.id)
    return stored.as_json()


@router.put("/{funnel_id}", summary="Change a funnel (its rows are recomputed)")
async def update_funnel(
    request: Request, principal: CurrentPrincipal, site_id: SiteRef, funnel_id: FunnelId,
    body: Definition,
) -> Any:  # fmt: skip
    svc = services(request)
    site = await resolve_site(svc.db, principal, site_id, Access.MANAGE)
    async with svc.db.transaction(principal.claims(site.id, need=Access.MANAGE)) as conn:
        stored = await service.update_funnel(conn, site.id, _funnel_id(funnel_id), body)
    await service.FunnelJob(svc.db).rebuild_funnel(site.id, stored.id)
    return stored.as_json()


@router.delete("/{funnel_id}", status_code=204, summary="Delete a funnel and its rows")
async def delete_funnel(
    request: Request, principal: CurrentPrincipal, site_id: SiteRef, funnel_id: FunnelId
) -> None:
    db = services(request).db
    site = await resolve_site(db, principal, site_id, Access.MANAGE)
    fid = _funnel_id(funnel_id)
    async with db.transaction(principal.claims(site.id, need=Access.MANAGE)) as conn:
        await service.delete_funnel(conn, site.id, fid)


@router.get("/{funnel_id}/report", summary="Funnel report per step, with a breakdown")
async def funnel_report(
    request: Request, scope: ReportScope, funnel_id: FunnelId,
    breakdown: Annotated[Literal["channel", "device", "campaign"] | None, Query()] = None,
) -> Any:  # fmt: skip
    """Per step: entered, converted, dropped, median seconds to the next step and the top
    drop-off reasons, over sessions (or people) whose visit started in the range (UTC days).
    CSV: one row per step (and per breakdown value with ``breakdown``)."""
    start = datetime.combine(scope.span.start, time(), UTC)
    end = datetime.combine(scope.span.end, time(), UTC) + timedelta(days=1)
    async with services(request).db.transaction(scope.claims()) as conn:
        stored = await service.get_funnel(conn, scope.site.id, _funnel_id(funnel_id))
        result = await service.report(conn, scope.site.id, stored, start, end, breakdown)
    if scope.format == "csv":
        rows = [
            {
                **s,
                "dropoff_reasons": "; ".join(
                    f"{r['reason']}={r['count']}" for r in s["dropoff_reasons"]
                ),
            }
            for s in result["steps"]
        ]
        cols = [
            "step",
            "name",
            "entered",
            "converted",
            "dropped",
            "median_seconds_to_next",
            "dropoff_reasons",
        ]
        if breakdown:
            names = {s["step"]: s["name"] for s in result["steps"]}
            rows = [
                {"value": g["value"], "step": i + 1, "name": names[i + 1], "entered": n}
                for g in result["breakdown"]["groups"]
                for i, n in enumerate(g["entered"])
            ]
            cols = ["value", "step", "name", "entered"]
        return csv_response(scope, "funnel", cols, rows)
    return result
