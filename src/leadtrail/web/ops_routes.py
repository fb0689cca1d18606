"""Heartbeats in, system health and scheduler state out (seed 000: publish_heartbeat,
get_system_health, leader election)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from leadtrail.auth.principal import Access, Principal
from leadtrail.errors import Forbidden
from leadtrail.heartbeats import service as heartbeats
from leadtrail.heartbeats.model import parse_beat
from leadtrail.scheduling.lease import Q as LEASE_Q
from leadtrail.web.deps import CurrentPrincipal
from leadtrail.web.people_common import json, read_object, server_caller
from leadtrail.web.services import services
from leadtrail.web.text_guard import NO_NUL

router = APIRouter(tags=["operations"], dependencies=[NO_NUL])


async def publish(request: Request, data: dict[str, Any], site_ref: str | None) -> dict[str, Any]:
    """Store one beat for a site the caller may operate (an ingest key is enough)."""
    beat = parse_beat(data)
    caller = await server_caller(request, site_ref, Access.OPERATE)
    async with services(request).db.transaction(caller.claims) as conn:
        row = await heartbeats.publish_site(conn, caller.site.id, beat)
    return {
        "status": "ok",
        "site_id": caller.site.id,
        "component_type": beat.component_type,
        "component_id": beat.component_id,
        "heartbeat_id": row["id"],
        "heartbeat_timestamp": row["heartbeat_timestamp"],
    }


@router.post(
    "/api/heartbeats",
    summary="Publish a heartbeat of one of your components",
    description=(
        "The seed's `publish_heartbeat` data: `component_type`, `component_id`, "
        "`component_name`, `status` (healthy, degraded, unhealthy) and `metrics` (any object; "
        "`cpu_usage`, `memory_usage`, `is_leader`, `quorum_size`, `region`, `version` also get "
        "columns). `site_id` names the site (optional with a one-site key)."
    ),
    status_code=201,
)
async def post_heartbeat(request: Request) -> Response:
    data = await read_object(request)
    site_ref = data.pop("site_id", None)
    return json(await publish(request, data, str(site_ref) if site_ref else None), 201)


def _include_system(principal: Principal) -> bool:
    return principal.kind == "user" and principal.is_superuser


@router.get(
    "/api/system/health",
    summary="Every component's last heartbeat and whether it is dead (get_system_health)",
    description=(
        "Your sites' components, and for a superuser leadtrail's own (API server, ingest "
        "writer, realtime feed, scheduler, identity resolver, rollups, webhook sender). A "
        "component without a beat for `LEADTRAIL_HEARTBEAT_DEAD_AFTER` seconds is `dead`."
    ),
)
async def system_health(
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = Query(default=None, description="Only this site's components"),
) -> Response:
    svc = services(request)
    claims = principal.claims() if principal.site_ids else None
    if site_id:
        caller = await server_caller(request, site_id, Access.READ)
        claims = caller.claims
    out = await heartbeats.system_health(
        svc.db,
        claims,
        dead_after=svc.settings.heartbeat_dead_after,
        include_system=_include_system(principal) and not site_id,
    )
    return json(out)


@router.get(
    "/api/system/scheduler",
    summary="The scheduler lease (leader, fencing token) and every job's last run",
)
async def scheduler_state(request: Request, principal: CurrentPrincipal) -> Response:
    if not _include_system(principal):
        raise Forbidden("only a superuser sees the scheduler", code="superuser_required")
    svc = services(request)
    async with svc.db.system() as conn:
        leases = [dict(r) for r in await conn.fetch(LEASE_Q.lease_info)]
        jobs = [dict(r) for r in await conn.fetch(LEASE_Q.jobs)]
    return json(
        {
            "node_id": svc.settings.node,
            "this_node_leads": svc.scheduler.is_leader,
            "leases": leases,
            "jobs": jobs,
            "registered_jobs": sorted(svc.scheduler.jobs),
        }
    )
