"""The web dashboard: one HTML page plus plain JS/CSS under ``static/dashboard`` (no build
step, nothing from the internet), and the bootstrap call it starts with."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, RedirectResponse
from starlette.routing import BaseRoute, Match

from leadtrail import __version__
from leadtrail.auth.principal import Principal
from leadtrail.auth.service import COOKIE_NAME
from leadtrail.storage import Claims, DbRole
from leadtrail.web.assets import STATIC_DIR
from leadtrail.web.services import services

router = APIRouter()
INDEX = STATIC_DIR / "dashboard" / "index.html"


def _csp(request: Request) -> str:
    host = request.headers.get("host", "")
    sockets = f"ws://{host} wss://{host}" if host else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {sockets}; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'; object-src 'none'"
    )


@router.get("/", include_in_schema=False)
async def root() -> RedirectResponse:
    return RedirectResponse("/dashboard/", status_code=307)


@router.get("/dashboard", include_in_schema=False)
@router.get("/dashboard/", include_in_schema=False)
@router.get("/accept", include_in_schema=False)  # invitation and reset links (#token=…)
async def index(request: Request) -> FileResponse:
    return FileResponse(
        INDEX,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": _csp(request),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-cache",
        },
    )


# Optional parts other packages may provide; the dashboard adapts when one is missing.
# Each is probed by asking the app's routes whether they would take such a request.
_ANY_ID = "00000000-0000-4000-8000-000000000000"
_FEATURES = {
    "realtime": ("websocket", "GET", "/realtime/v1/websocket"),
    "campaigns": ("http", "GET", "/api/campaigns/performance"),
    "journey": ("http", "GET", f"/api/users/{_ANY_ID}/journey"),
    "call_status": ("http", "PATCH", f"/api/calls/{_ANY_ID}"),
    "attribution": ("http", "GET", "/api/attribution"),
}


def _routed(routes: list[BaseRoute], kind: str, method: str, path: str) -> bool:
    scope = {"type": kind, "method": method, "path": path, "root_path": "", "headers": []}
    return any(route.matches(scope)[0] is Match.FULL for route in routes)


def features(request: Request) -> dict[str, bool]:
    routes = request.app.routes
    found = {name: _routed(routes, *probe) for name, probe in _FEATURES.items()}
    # the socket is only worth using while its change feed runs (else the page polls)
    realtime = getattr(services(request), "realtime", None)
    hub = getattr(realtime, "hub", None)
    found["realtime"] = found["realtime"] and hub is not None and not hub.feed_problem
    return found


async def _user(request: Request) -> Principal | None:
    cookie = request.cookies.get(COOKIE_NAME)
    if not cookie:
        return None
    return await services(request).auth.from_session_token(cookie)


@router.get("/api/dashboard/session", tags=["auth"], summary="Dashboard bootstrap")
async def session(request: Request) -> dict[str, Any]:
    """Who is logged in (``user`` is null when nobody is: answered with 200 so the page can
    show its login form), the sites they see, and which optional parts this server has."""
    principal = await _user(request)
    body: dict[str, Any] = {"version": __version__, "features": features(request), "user": None}
    settings = services(request).settings
    # the login form offers single sign-on when it is configured
    body["sso"] = {"label": settings.oidc_label} if settings.oidc_issuer else None
    if principal is None:
        body["sites"] = []
        return body
    sites: list[dict[str, Any]] = []
    if principal.site_ids:
        claims = Claims(role=DbRole.ANALYST, sub=str(principal.id), site_ids=principal.site_ids)
        async with services(request).db.transaction(claims) as conn:
            rows = await conn.fetch(
                "SELECT id, public_id, name, domain, timezone FROM sites ORDER BY name, created_at"
            )
        for r in rows:
            access = principal.access(r["id"])
            sites.append(
                {
                    "id": str(r["id"]),
                    "public_id": r["public_id"],
                    "name": r["name"],
                    "domain": r["domain"],
                    "timezone": r["timezone"],
                    "role": principal.memberships[r["id"]].value,
                    "access": access.name.lower() if access else "read",
                }
            )
    body["user"] = {
        "id": str(principal.id),
        "email": principal.name,
        "is_superuser": principal.is_superuser,
    }
    body["sites"] = sites
    return body
