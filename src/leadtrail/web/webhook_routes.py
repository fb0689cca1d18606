"""Webhook endpoints of a site, their delivery log and manual replay. Reading needs read
access to the site; creating, changing and replaying need manage access."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from leadtrail.auth.principal import Access
from leadtrail.errors import NotFound
from leadtrail.web.deps import CurrentPrincipal
from leadtrail.web.people_common import json, parse_uuid, site_for
from leadtrail.web.services import services
from leadtrail.web.text_guard import NO_NUL
from leadtrail.webhooks import service as webhooks

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"], dependencies=[NO_NUL])
SiteQuery = Query(default=None, description="Site uuid or public id (optional with one site)")


class EndpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site_id: str | None = None
    url: str = Field(max_length=2000)
    events: list[str] = Field(min_length=1, max_length=20)
    format: Literal["standard", "slack"] = "standard"
    description: str | None = Field(default=None, max_length=500)
    max_concurrency: int = Field(default=4, ge=1, le=64)


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, max_length=2000)
    events: list[str] | None = Field(default=None, min_length=1, max_length=20)
    format: Literal["standard", "slack"] | None = None
    description: str | None = Field(default=None, max_length=500)
    max_concurrency: int | None = Field(default=None, ge=1, le=64)
    enabled: bool | None = None


@router.post(
    "",
    summary="Add an endpoint; the answer holds its signing secret (shown once)",
    status_code=201,
)
async def create(body: EndpointBody, request: Request, principal: CurrentPrincipal) -> Response:
    svc = services(request)
    site = await site_for(request, principal, body.site_id, Access.MANAGE)
    async with svc.db.transaction(principal.claims(site.id, need=Access.MANAGE)) as conn:
        row = await webhooks.create_endpoint(
            conn,
            svc.secret_box,
            site.id,
            url=body.url,
            events=body.events,
            format=body.format,
            description=body.description,
            max_concurrency=body.max_concurrency,
        )
    return json(row, 201)


@router.get("", summary="A site's endpoints with pending and dead-letter counts")
async def list_(
    request: Request, principal: CurrentPrincipal, site_id: str | None = SiteQuery
) -> Response:
    site = await site_for(request, principal, site_id, Access.READ)
    async with services(request).db.transaction(principal.claims(site.id)) as conn:
        return json(await webhooks.list_endpoints(conn, site.id))


@router.patch("/{endpoint_id}", summary="Change an endpoint (url, events, format, enabled …)")
async def update(
    endpoint_id: str,
    body: EndpointPatch,
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = SiteQuery,
) -> Response:
    eid = parse_uuid(endpoint_id, "endpoint_id")
    site = await site_for(request, principal, site_id, Access.MANAGE)
    claims = principal.claims(site.id, need=Access.MANAGE)
    async with services(request).db.transaction(claims) as conn:
        row = await webhooks.update_endpoint(
            conn, site.id, eid, body.model_dump(exclude_unset=True)
        )
    if row is None:
        raise NotFound(f"no webhook endpoint {eid}", code="webhook_not_found")
    return json(row)


@router.delete("/{endpoint_id}", summary="Remove an endpoint and its delivery log", status_code=204)
async def delete(
    endpoint_id: str, request: Request, principal: CurrentPrincipal, site_id: str | None = SiteQuery
) -> Response:
    eid = parse_uuid(endpoint_id, "endpoint_id")
    site = await site_for(request, principal, site_id, Access.MANAGE)
    claims = principal.claims(site.id, need=Access.MANAGE)
    async with services(request).db.transaction(claims) as conn:
        if not await webhooks.delete_endpoint(conn, site.id, eid):
            raise NotFound(f"no webhook endpoint {eid}", code="webhook_not_found")
    return Response(status_code=204)


@router.get(
    "/{endpoint_id}/deliveries",
    summary="The endpoint's delivery log, newest first, with every attempt",
)
async def deliveries(
    endpoint_id: str,
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = SiteQuery,
    status: Literal["pending", "delivered", "dead"] | None = Query(default=None),
    limit: int = Query(default=100, ge=1, le=1000),
) -> Response:
    eid = parse_uuid(endpoint_id, "endpoint_id")
    site = await site_for(request, principal, site_id, Access.READ)
    async with services(request).db.transaction(principal.claims(site.id)) as conn:
        return json(await webhooks.deliveries(conn, site.id, eid, status, limit))


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/replay",
    summary="Send a delivery again now (same webhook-id), with a fresh retry window",
)
async def replay(
    endpoint_id: str,
    delivery_id: str,
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = SiteQuery,
) -> Response:
    eid = parse_uuid(endpoint_id, "endpoint_id")
    did = parse_uuid(delivery_id.removeprefix("msg_"), "delivery_id")
    svc = services(request)
    site = await site_for(request, principal, site_id, Access.MANAGE)
    claims = principal.claims(site.id, need=Access.MANAGE)
    async with svc.db.transaction(claims) as conn:
        row = await webhooks.replay(conn, site.id, eid, did)
    if row is None:
        raise NotFound(f"no delivery {did} for endpoint {eid}", code="delivery_not_found")
    svc.webhook_sender.wake()
    return json(row)
