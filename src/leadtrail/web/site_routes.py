"""Site management for the Settings page: the site itself (domain, origins, time zone,
scoring weights, privacy), its API keys and its members. Reading a site needs read
access; every change needs manage access (site admin or owner, or an ``admin`` key)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from leadtrail.auth import api_keys
from leadtrail.auth.identity_tokens import identity_secret, server_key
from leadtrail.auth.principal import Access, Principal
from leadtrail.errors import Forbidden
from leadtrail.sites import manage
from leadtrail.sites import settings as site_settings
from leadtrail.sites.service import Site, snippet
from leadtrail.web.deps import CurrentPrincipal
from leadtrail.web.services import services
from leadtrail.web.site_scope import resolve_site
from leadtrail.web.text_guard import NO_NUL

router = APIRouter(prefix="/api/sites", tags=["sites"], dependencies=[NO_NUL])
SiteRef = Annotated[str, Path(description="Site uuid or public id", max_length=64)]
Role = Literal["owner", "admin", "analyst", "viewer"]


def site_json(request: Request, site: Site, principal: Principal) -> dict[str, Any]:
    role = principal.memberships.get(site.id)
    return {
        "id": str(site.id),
        "public_id": site.public_id,
        "name": site.name,
        "domain": site.domain,
        "allowed_origins": list(site.allowed_origins),
        "timezone": site.timezone,
        "settings": site_settings.effective(site.settings),
        "created_at": site.created_at.isoformat(),
        "role": role.value if role else None,
        "access": (principal.access(site.id) or Access.READ).name.lower(),
        "snippet": snippet(site.public_id, services(request).settings.base_url),
    }


@router.get("", summary="The sites the caller can see")
async def list_sites(request: Request, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    db = services(request).db
    if not principal.site_ids:
        return []
    if not any(principal.allows(s, Access.READ) for s in principal.site_ids):
        raise Forbidden("listing sites needs read access", code="insufficient_role")
    async with db.transaction(principal.claims()) as conn:
        rows = await conn.fetch(
            "SELECT id, public_id, name, domain, allowed_origins, settings, timezone, created_at "
            "FROM sites ORDER BY name, created_at"
        )
    return [site_json(request, Site.from_row(r), principal) for r in rows]


@router.get("/{site}", summary="One site, with its settings and tracker snippet")
async def get_site(request: Request, principal: CurrentPrincipal, site: SiteRef) -> dict[str, Any]:
    found = await resolve_site(services(request).db, principal, site, Access.READ)
    out = site_json(request, found, principal)
    if principal.allows(found.id, Access.MANAGE):
        # signs user ids for leadtrail.identify (identity verification); admins only
        key = server_key(services(request).settings)
        out["identity_secret"] = identity_secret(key, found.id)
    return out


class SettingsPatch(BaseModel):
    scoring: dict[str, Any] | None = Field(
        default=None, description="Lead-score weights, whole numbers 0-100 (merged key by key)"
    )
    respect_dnt: bool | None = None
    ip_storage: Literal["full", "truncated", "none"] | None = None
    default_region: str | None = Field(
        default=None, description="ISO 3166 region for phone numbers"
    )
    currency: str | None = Field(default=None, description="ISO 4217 currency of spend and values")
    lead_lookback_minutes: int | None = None
    call_window_minutes: int | None = None
    attribution_half_life_days: float | None = None
    attribution_model: str | None = Field(
        default=None, description="The model every report, page and stored credit uses"
    )
    click_lookback_days: int | None = None
    dni_sources: list[str] | None = None
    dni_lease_minutes: int | None = None
    dni_default_number: str | None = None
    behaviour: dict[str, Any] | None = Field(
        default=None,
        description="Behaviour capture: enabled, sample_rate, thresholds (docs/behaviour.md)",
    )
    url_query_allowlist: list[str] | None = Field(
        default=None, description="Query parameters kept in stored URLs besides utm_* and click ids"
    )
    retention_months: int | None = Field(
        default=None, description="Months of visit data kept before the current one; null: all"
    )
    retention_archive: bool | None = Field(
        default=None, description="Write expired months to Parquet before they are dropped"
    )


class SitePatch(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    domain: str | None = Field(default=None, max_length=253)
    allowed_origins: list[Annotated[str, Field(max_length=253)]] | None = Field(
        default=None, max_length=100
    )
    timezone: str | None = Field(default=None, max_length=64)
    settings: SettingsPatch | None = None


@router.patch("/{site}", summary="Change a site's domain, origins, time zone or settings")
async def update_site(
    request: Request, principal: CurrentPrincipal, site: SiteRef, body: SitePatch
) -> dict[str, Any]:
    db = services(request).db
    found = await resolve_site(db, principal, site, Access.MANAGE)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if body.settings is not None:
        # explicit nulls count (default_region: null clears it)
        changes["settings"] = body.settings.model_dump(exclude_unset=True)
        for key in (
            "scoring",
            "respect_dnt",
            "ip_storage",
            "currency",
            "attribution_model",
            "click_lookback_days",
            "dni_sources",
            "dni_lease_minutes",
            "behaviour",
            "retention_archive",
            "url_query_allowlist",
        ):
            if changes["settings"].get(key, "") is None:
                del changes["settings"][key]
    async with db.transaction(principal.claims(found.id, need=Access.MANAGE)) as conn:
        updated = await manage.update_site(conn, found.id, changes)
    return site_json(request, updated, principal)


# -- API keys ------------------------------------------------------------------------


def key_json(key: api_keys.KeyInfo) -> dict[str, Any]:
    return {
        "id": str(key.id),
        "name": key.name,
        "prefix": key.prefix,
        "scopes": list(key.scopes),
        "created_at": key.created_at.isoformat(),
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


@router.get("/{site}/keys", summary="API keys of a site (prefixes only, never secrets)")
async def list_keys(
    request: Request, principal: CurrentPrincipal, site: SiteRef
) -> list[dict[str, Any]]:
    db = services(request).db
    found = await resolve_site(db, principal, site, Access.MANAGE)
    async with db.transaction(principal.claims(found.id, need=Access.MANAGE)) as conn:
        keys = await api_keys.list_keys(conn, found.id)
    return [key_json(k) for k in keys]


class NewKeyBody(BaseModel):
    name: str = Field(default="", max_length=100)
    scopes: list[Annotated[str, Field(max_length=20)]] = Field(
        default_factory=lambda: ["ingest"], max_length=3
    )


@router.post(
    "/{site}/keys",
    status_code=201,
    summary="Create an API key; the answer is the only time the whole key is shown",
)
async def create_key(
    request: Request, principal: CurrentPrincipal, site: SiteRef, body: NewKeyBody
) -> dict[str, Any]:
    db = services(request).db
    found = await resolve_site(db, principal, site, Access.MANAGE)
    async with db.transaction(principal.claims(found.id, need=Access.MANAGE)) as conn:
        new = await api_keys.create_key(
            conn,
            found.id,
            name=body.name.strip(),
            scopes=body.scopes,
            created_by=principal.id if principal.kind == "user" else None,
        )
        info = next(k for k in await api_keys.list_keys(conn, found.id) if k.id == new.id)
    return {**key_json(info), "key": new.key}


@router.delete("/{site}/keys/{key_id}", summary="Revoke an API key (by id or prefix)")
async def revoke_key(
    request: Request,
    principal: CurrentPrincipal,
    site: SiteRef,
    key_id: Annotated[str, Path(max_length=64)],
) -> dict[str, Any]:
    db = services(request).db
    found = await resolve_site(db, principal, site, Access.MANAGE)
    async with db.transaction(principal.claims(found.id, need=Access.MANAGE)) as conn:
        info = await api_keys.revoke_key(conn, found.id, key_id)
    return key_json(info)


# -- members -------------------------------------------------------------------------


def member_json(member: manage.Member) -> dict[str, Any]:
    return {
        "user_id": str(member.user_id),
        "email": member.email,
        "name": member.name,
        "role": member.role,
        "created_at": member.created_at.isoformat(),
        "last_login_at": member.last_login_at.isoformat() if member.last_login_at else None,
    }


def _actor_role(principal: Principal, site_id: UUID) -> str | None:
    if principal.kind != "user":
        return None
    role = principal.memberships.get(site_id)
    return role.value if role else None


@router.get("/{site}/members", summary="Members of a site and their roles")
async def list_members(
    request: Request, principal: CurrentPrincipal, site: SiteRef
) -> list[dict[str, Any]]:
    db = services(request).db
    found = await resolve_site(db, principal, site, Access.MANAGE)
    async with db.transaction(principal.claims(found.id, need=Access.MANAGE)) as conn:
        members = await manage.list_members(conn, found.id)
    return [member_json(m) for m in members]


class NewMemberBody(BaseModel):
    email: str = Field(max_length=254)
    role: Role = "viewer"


@router.post("/{site}/members", status_code=201, summary="Add an existing account to a site")
async def add_member(
    request: Request, principal: CurrentPrincipal, site: SiteRef, body: NewMemberBody
) -> dict[str, Any]:
    db = services(request).db
    found = await resolve_site(db, principal, site, Access.MANAGE)
    async with db.transaction(principal.claims(found.id, need=Access.MANAGE)) as conn:
        member = await manage.add_member(
            conn, found.id, body.email, body.role, actor_role=_actor_role(principal, found.id)
        )
    return member_json(member)


class RoleBody(BaseModel):
    role: Role


@router.patch("/{site}/members/{user_id}", summary="Change a member's role")
async def change_role(
    request: Request, principal: CurrentPrincipal, site: SiteRef, user_id: UUID, body: RoleBody
) -> dict[str, Any]:
    db = services(request).db
    found = await resolve_site(db, principal, site, Access.MANAGE)
    async with db.transaction(principal.claims(found.id, need=Access.MANAGE)) as conn:
        member = await manage.change_role(
            conn, found.id, user_id, body.role, actor_role=_actor_role(principal, found.id)
        )
    return member_json(member)


@router.delete("/{site}/members/{user_id}", status_code=204, summary="Remove a member from a site")
async def remove_member(
    request: Request, principal: CurrentPrincipal, site: SiteRef, user_id: UUID
) -> Response:
    db = services(request).db
    found = await resolve_site(db, principal, site, Access.MANAGE)
    async with db.transaction(principal.claims(found.id, need=Access.MANAGE)) as conn:
        await manage.remove_member(
            conn, found.id, user_id, actor_role=_actor_role(principal, found.id)
        )
    return Response(status_code=204)
