"""Dashboard login, logout and the caller's identity."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from leadtrail.auth.passwords import MAX_LENGTH
from leadtrail.auth.service import COOKIE_NAME
from leadtrail.config import Settings
from leadtrail.storage import Claims, DbRole
from leadtrail.web.csrf import check_same_origin
from leadtrail.web.deps import CurrentPrincipal
from leadtrail.web.people_common import request_ip
from leadtrail.web.services import services
from leadtrail.web.text_guard import NO_NUL

router = APIRouter(prefix="/api/auth", tags=["auth"], dependencies=[NO_NUL])


class LoginBody(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=MAX_LENGTH)


def set_session_cookie(response: Response, cookie_value: str, settings: Settings) -> None:
    """The dashboard session cookie, the same for a password login and single sign-on.
    SameSite=Strict: no other site's page can make the browser send it (CSRF)."""
    response.set_cookie(
        COOKIE_NAME,
        cookie_value,
        max_age=settings.session_max_age,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )


@router.post("/login", summary="Log in; sets the HttpOnly session cookie")
async def login(body: LoginBody, request: Request, response: Response) -> dict[str, Any]:
    svc = services(request)
    check_same_origin(request, svc.settings.base_url)  # no logging a visitor into our account
    result = await svc.auth.login(
        body.email, body.password, request.headers.get("user-agent", ""), request_ip(request)
    )
    set_session_cookie(response, result.cookie_value, svc.settings)
    return {"user": {"id": str(result.principal.id), "email": result.principal.name}}


@router.post("/logout", summary="End the dashboard session")
async def logout(request: Request, response: Response) -> dict[str, str]:
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        check_same_origin(request, services(request).settings.base_url)
        await services(request).auth.logout(cookie)
    response.delete_cookie(COOKIE_NAME, path="/")
    return {"status": "logged_out"}


@router.get("/me", summary="The caller and the sites they can see")
async def me(principal: CurrentPrincipal, request: Request) -> dict[str, Any]:
    db = services(request).db
    claims = Claims(role=DbRole.ANALYST, sub=str(principal.id), site_ids=principal.site_ids)
    async with db.transaction(claims) as conn:
        rows = await conn.fetch("SELECT id, public_id, name, domain FROM sites ORDER BY name")
    return {
        "kind": principal.kind,
        "id": str(principal.id),
        "name": principal.name,
        "sites": [
            {
                **{k: str(v) for k, v in dict(r).items()},
                "role": principal.memberships[r["id"]].value,
            }
            for r in rows
        ],
    }
