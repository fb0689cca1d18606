"""Privacy requests: export a person's data, erase a person everywhere, the erasure audit.

Both need manage access to the site (a site admin or owner, or an ``admin`` key): an export
holds every stored fact about someone, and an erasure cannot be undone.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from leadtrail.auth.principal import Access
from leadtrail.privacy import service
from leadtrail.sites.people import PeopleSettings
from leadtrail.web.deps import CurrentPrincipal
from leadtrail.web.people_common import json, site_for
from leadtrail.web.services import services
from leadtrail.web.text_guard import NO_NUL

router = APIRouter(prefix="/api/privacy", tags=["privacy"], dependencies=[NO_NUL])
SubjectKind = Literal["person", "email", "phone", "fingerprint", "session"]


class EraseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site_id: str | None = Field(default=None, description="Site uuid or public id", max_length=64)
    kind: SubjectKind = Field(description="How the person is named")
    value: str = Field(min_length=1, max_length=254, description="The person id, e-mail, …")


@router.get("/export", summary="Every stored fact about one person, as JSON")
async def export_person(
    request: Request,
    principal: CurrentPrincipal,
    kind: SubjectKind = Query(description="How the person is named"),
    value: str = Query(min_length=1, max_length=254),
    site_id: str | None = Query(default=None, description="Site uuid or public id"),
) -> Response:
    site = await site_for(request, principal, site_id, Access.MANAGE)
    out = await service.export_person(
        services(request).db,
        principal.claims(site.id, need=Access.MANAGE),
        site.id,
        kind,
        value,
        region=PeopleSettings.from_site(site.settings).default_region,
    )
    response = json(out)
    response.headers["Content-Disposition"] = 'attachment; filename="person-export.json"'
    return response


@router.post("/erase", summary="Erase a person from every table, rollups kept correct")
async def erase_person(request: Request, principal: CurrentPrincipal, body: EraseBody) -> Response:
    site = await site_for(request, principal, body.site_id, Access.MANAGE)
    erased = await service.erase_person(
        services(request).db,
        principal.claims(site.id, need=Access.MANAGE),
        site.id,
        body.kind,
        body.value,
        actor=f"{principal.kind}:{principal.id}",
        region=PeopleSettings.from_site(site.settings).default_region,
    )
    return json({"status": "erased", **vars(erased)})


@router.get("/erasures", summary="The erasure audit: who erased how many rows, when")
async def erasures(
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = Query(default=None, description="Site uuid or public id"),
    limit: int = Query(default=100, ge=1, le=1000),
) -> dict[str, Any]:
    site = await site_for(request, principal, site_id, Access.MANAGE)
    rows = await service.list_erasures(
        services(request).db, principal.claims(site.id, need=Access.MANAGE), site.id, limit
    )
    return {"erasures": rows}
