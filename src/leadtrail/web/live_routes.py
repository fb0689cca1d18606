"""First paint of the live feed and the call monitor; the realtime socket adds what
arrives after."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request

from leadtrail.analytics import feed
from leadtrail.auth.principal import Access
from leadtrail.errors import NotFound
from leadtrail.leads.service import conversion_rules
from leadtrail.sites.people import PeopleSettings
from leadtrail.web.deps import CurrentPrincipal
from leadtrail.web.services import services
from leadtrail.web.site_scope import resolve_site
from leadtrail.web.text_guard import NO_NUL

router = APIRouter(prefix="/api/live", tags=["live"], dependencies=[NO_NUL])
SiteRef = Annotated[str, Query(description="Site uuid or public id", max_length=64)]


@router.get("/events", summary="The newest events, with their sessions")
async def recent_events(
    request: Request,
    principal: CurrentPrincipal,
    site_id: SiteRef,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    include_system: Annotated[
        bool, Query(description="Include heartbeats and other system events")
    ] = False,
) -> dict[str, Any]:
    db = services(request).db
    site = await resolve_site(db, principal, site_id, Access.READ)
    async with db.transaction(principal.claims(site.id)) as conn:
        rows = await feed.recent_events(conn, site.id, limit, include_system=include_system)
    return {"site_id": str(site.id), "events": rows}


@router.get("/sessions/{session_id}/events", summary="Every event of one session (journey)")
async def session_events(
    request: Request, principal: CurrentPrincipal, site_id: SiteRef, session_id: UUID
) -> dict[str, Any]:
    db = services(request).db
    site = await resolve_site(db, principal, site_id, Access.READ)
    async with db.transaction(principal.claims(site.id)) as conn:
        rows = await feed.session_events(conn, site.id, session_id)
    if not rows:
        raise NotFound("no such session on this site", code="session_not_found")
    return {"site_id": str(site.id), "session_id": str(session_id), "events": rows}


@router.get("/calls", summary="The newest calls, with the session each was matched to")
async def recent_calls(
    request: Request,
    principal: CurrentPrincipal,
    site_id: SiteRef,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    match: Annotated[
        Literal["matched", "unmatched"] | None, Query(description="Only matched or unmatched calls")
    ] = None,
) -> dict[str, Any]:
    db = services(request).db
    site = await resolve_site(db, principal, site_id, Access.READ)
    async with db.transaction(principal.claims(site.id)) as conn:
        rows = await feed.recent_calls(conn, site.id, limit, match)
    people = PeopleSettings.from_site(site.settings)
    for row in rows:  # why the call scored, rule by rule (the card shows it)
        session = (
            {**row, "lead_score": row["session_score"] or 0} if row["matched_session_id"] else None
        )
        row["score_rules"] = [
            {"rule": rule, "points": points}
            for rule, points in conversion_rules(session, row["attribution_source"], people)
        ]
    return {
        "site_id": str(site.id),
        "calls": rows,
        "attribution_model": people.attribution_model,
    }
