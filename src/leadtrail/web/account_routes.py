"""Accounts without a terminal: change your password, invitations and reset links (shown to
the administrator as one-time links), deleting accounts, creating and deleting sites.

Who may do what: anyone logged in changes their own password; a site's admins and owners
invite people into that site; a superuser manages every account and creates sites; a site's
owner (or a superuser) deletes it, typing its public id to confirm.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from leadtrail.auth import accounts
from leadtrail.auth.principal import Access, Principal
from leadtrail.auth.service import AUTH_CLAIMS
from leadtrail.errors import BadRequest, Forbidden
from leadtrail.sites.deletion import delete_site
from leadtrail.sites.service import create_site
from leadtrail.storage import Claims, DbRole
from leadtrail.web.deps import CurrentUser
from leadtrail.web.services import services
from leadtrail.web.site_scope import resolve_site
from leadtrail.web.text_guard import NO_NUL

router = APIRouter(tags=["accounts"], dependencies=[NO_NUL])
Role = Literal["owner", "admin", "analyst", "viewer"]


def _superuser(principal: Principal) -> None:
    if not principal.is_superuser:
        raise Forbidden("only a superuser may do this", code="superuser_required")


def _is_owner(principal: Principal, site_id: UUID) -> bool:
    role = principal.memberships.get(site_id)
    return principal.is_superuser or (role is not None and role.value == "owner")


def _link(request: Request, link: accounts.OneTimeLink) -> dict[str, Any]:
    return {
        "user_id": str(link.user_id),
        "email": link.email,
        "purpose": link.purpose,
        # The address the administrator reached us at, unless a public URL is configured.
        "link": link.url(services(request).settings.public_url or str(request.base_url)),
        "expires_at": link.expires_at.isoformat(),
    }


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


@router.post(
    "/api/auth/password", summary="Change your own password (every session of the account ends)"
)
async def change_password(
    body: PasswordChange, request: Request, user: CurrentUser
) -> dict[str, str]:
    await accounts.change_password(
        services(request).db, user.id, body.current_password, body.new_password
    )
    return {"status": "changed"}


class Redeem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=10, max_length=200)
    password: str = Field(max_length=1024)


@router.post("/api/auth/accept", summary="Set a password through an invitation or reset link")
async def accept(body: Redeem, request: Request) -> dict[str, str]:
    email = await accounts.redeem(services(request).db, body.token, body.password)
    return {"status": "password_set", "email": email}


class Invite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=254)
    name: str = Field(default="", max_length=200)
    site_id: str | None = Field(default=None, max_length=64, description="Site uuid or public id")
    role: Role = "viewer"


@router.get("/api/users", summary="Every account (superuser)")
async def list_accounts(request: Request, user: CurrentUser) -> dict[str, Any]:
    _superuser(user)
    async with services(request).db.transaction(AUTH_CLAIMS) as conn:
        rows = await conn.fetch(
            "SELECT id, email, name, is_superuser, created_at, last_login_at,"
            " password_hash = $1 AS invited FROM app_users ORDER BY email",
            accounts.NO_PASSWORD,
        )
    return {"users": [{**r, "id": str(r["id"])} for r in rows]}


@router.post(
    "/api/users", status_code=201, summary="Invite someone: an account and a one-time link"
)
async def invite(body: Invite, request: Request, user: CurrentUser) -> dict[str, Any]:
    db = services(request).db
    site_id: UUID | None = None
    if body.site_id:
        site = await resolve_site(db, user, body.site_id, Access.MANAGE)
        site_id = site.id
        if body.role == "owner" and not _is_owner(user, site.id):
            raise Forbidden("only an owner may invite another owner", code="insufficient_role")
    elif not user.is_superuser:
        raise BadRequest("name the site to invite into", code="invalid_request", field="site_id")
    link = await accounts.invite(
        db, body.email, by=user.id, site_id=site_id, role=body.role, name=body.name
    )
    return _link(request, link)


@router.post("/api/users/{user_id}/reset-link", summary="A password-reset link (superuser)")
async def reset_link(user_id: UUID, request: Request, user: CurrentUser) -> dict[str, Any]:
    _superuser(user)
    return _link(request, await accounts.reset_link(services(request).db, user_id, by=user.id))


@router.delete("/api/users/{user_id}", status_code=204, summary="Delete an account (superuser)")
async def delete_account(user_id: UUID, request: Request, user: CurrentUser) -> None:
    _superuser(user)
    await accounts.delete_account(services(request).db, user_id, by=user.id)


class NewSite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    domain: str = Field(max_length=253)
    timezone: str = Field(default="UTC", max_length=64)


@router.post("/api/sites", status_code=201, summary="Create a site you own (superuser)")
async def new_site(body: NewSite, request: Request, user: CurrentUser) -> dict[str, Any]:
    _superuser(user)
    async with services(request).db.transaction(AUTH_CLAIMS) as conn:
        site = await create_site(
            conn, name=body.name, domain=body.domain, owner_id=user.id, timezone=body.timezone
        )
    return {
        "id": str(site.id),
        "public_id": site.public_id,
        "name": site.name,
        "domain": site.domain,
    }


class DeleteSite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confirm: str = Field(max_length=64, description="The site's public id, typed to confirm")


@router.post("/api/sites/{site}/delete", summary="Delete a site and all its data (owner)")
async def remove_site(
    site: str, body: DeleteSite, request: Request, user: CurrentUser
) -> dict[str, Any]:
    db = services(request).db
    found = await resolve_site(db, user, site, Access.MANAGE)
    if not _is_owner(user, found.id):
        raise Forbidden("only an owner may delete a site", code="insufficient_role")
    if body.confirm != found.public_id:
        raise BadRequest(
            f"type the site's public id ({found.public_id}) to confirm",
            code="confirmation_mismatch",
            field="confirm",
        )
    claims = Claims(role=DbRole.ADMIN, sub=str(user.id), site_ids=(found.id,))
    async with db.transaction(claims) as conn:
        removed = await delete_site(conn, found.id)
    services(request).ingest.sites.invalidate()
    return {"status": "deleted", "rows_removed": removed}
