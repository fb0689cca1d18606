"""Dynamic number insertion: the tracker module's lease endpoint (``POST /api/dni/lease``)
and the site's pool of tracking numbers (``/api/sites/{site}/dni/numbers``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from leadtrail.auth.principal import Access
from leadtrail.dni import service as dni
from leadtrail.dni.eligibility import visit_channel, wants_number
from leadtrail.dni.numbers import display
from leadtrail.errors import LeadtrailError, NotFound
from leadtrail.identity import normalize
from leadtrail.web.deps import CurrentPrincipal
from leadtrail.web.people_common import (
    json,
    preflight,
    rate_limit,
    read_object,
    site_for,
    tracker_caller,
    tracker_error,
    tracker_opted_out,
    validate,
)
from leadtrail.web.services import services
from leadtrail.web.text_guard import NO_NUL

router = APIRouter(tags=["dynamic number insertion"], dependencies=[NO_NUL])
LEASE_RATE = "60/minute"


class LeaseBody(BaseModel):
    """What the DNI module posts (text/plain JSON, from the site's pages)."""

    s: str = Field(max_length=64, description="The site's public id")
    sid: UUID = Field(description="The tracker's session id")
    u: str | None = Field(default=None, max_length=4000, description="The landing URL")
    r: str | None = Field(default=None, max_length=4000, description="document.referrer")


@router.options("/api/dni/lease", include_in_schema=False)
async def lease_preflight(request: Request) -> Response:
    return preflight(request)


@router.post(
    "/api/dni/lease",
    summary="A tracking number for this session (dynamic number insertion)",
    description=(
        "Tracker mode (no key, an allowed Origin). A session keeps the number leased to it "
        "(the lease is extended); a new session from one of the site's `dni_sources` gets the "
        "pool's least recently used free number. `number` is null when the visit is not from "
        "those sources, or the pool is empty or exhausted (then the page keeps its own "
        "number and the exhaustion is counted)."
    ),
)
async def lease(request: Request) -> Response:
    data = await read_object(request)
    try:
        await rate_limit(request, "dni-lease", LEASE_RATE)
        body = validate(LeaseBody, data)
        caller = await tracker_caller(request, body.s, "dni")
        if (ignored := tracker_opted_out(request, caller)) is not None:
            return ignored
        people = caller.site.people
        now = datetime.now(UTC)

        async def work(conn: Any) -> dict[str, Any]:
            channel = await visit_channel(conn, caller.site, body.sid, body.u, body.r)
            held = await conn.fetchrow(dni.Q.current_lease, caller.site.id, body.sid, now)
            if held is None and not wants_number(channel, people.dni_sources):
                return {"number": None, "reason": "source", "channel": channel}
            got = await dni.lease(
                conn, caller.site.id, body.sid, now=now, minutes=people.dni_lease_minutes
            )
            if got is None:
                return {"number": None, "reason": "exhausted", "channel": channel}
            return {
                "number": got["number"],
                "display": display(got["number"]),
                "expires_at": got["expires_at"],
                "channel": channel,
            }

        async with services(request).db.transaction(caller.claims) as conn:
            out = await work(conn)
    except LeadtrailError as exc:
        return tracker_error(exc, request)
    return json(out, 200, caller.origin)


class NumberBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(max_length=40)
    label: str | None = Field(default=None, max_length=100)


@router.get("/api/sites/{site}/dni/numbers", summary="The site's tracking-number pool")
async def list_numbers(
    site: str,
    request: Request,
    principal: CurrentPrincipal,
    hours: int = Query(default=24, ge=1, le=24 * 90, description="Exhaustion count window"),
) -> Response:
    ref = await site_for(request, principal, site, Access.READ)
    now = datetime.now(UTC)
    async with services(request).db.transaction(principal.claims(ref.id)) as conn:
        numbers = await dni.list_numbers(conn, ref.id, now)
        exhausted = await dni.exhaustions(conn, ref.id, now - timedelta(hours=hours), now)
    people = ref.people
    return json(
        {
            "numbers": numbers,
            "exhausted": exhausted,
            "exhausted_window_hours": hours,
            "lease_minutes": people.dni_lease_minutes,
            "sources": list(people.dni_sources),
        }
    )


@router.post("/api/sites/{site}/dni/numbers", summary="Add a tracking number to the pool")
async def add_number(
    site: str, body: NumberBody, request: Request, principal: CurrentPrincipal
) -> Response:
    ref = await site_for(request, principal, site, Access.MANAGE)
    number = normalize.phone(body.number, ref.people.default_region, field="number")
    async with services(request).db.transaction(
        principal.claims(ref.id, need=Access.MANAGE)
    ) as conn:
        row = await dni.add_number(conn, ref.id, number, body.label)
    return json(row, 201)


@router.delete(
    "/api/sites/{site}/dni/numbers/{number}", summary="Remove a tracking number from the pool"
)
async def remove_number(
    site: str, number: str, request: Request, principal: CurrentPrincipal
) -> Response:
    ref = await site_for(request, principal, site, Access.MANAGE)
    e164 = normalize.phone(number, ref.people.default_region, field="number")
    async with services(request).db.transaction(
        principal.claims(ref.id, need=Access.MANAGE)
    ) as conn:
        removed = await dni.remove_number(conn, ref.id, e164)
    if not removed:
        raise NotFound(f"{e164} is not in the pool", code="number_not_found")
    return Response(status_code=204)
