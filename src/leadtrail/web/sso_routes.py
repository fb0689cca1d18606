"""Single sign-on routes: ``/api/auth/oidc/login`` sends the browser to the provider,
``/api/auth/oidc/callback`` comes back, checks everything (auth/oidc.py) and logs in the
account with that verified e-mail."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse

from leadtrail.auth.oidc import FLOW_COOKIE, FLOW_MAX_AGE, OidcClient, config_from
from leadtrail.auth.service import AUTH_CLAIMS
from leadtrail.auth.signing import signing_key
from leadtrail.auth.users import normalize_email
from leadtrail.errors import LeadtrailError, NotFound
from leadtrail.web.auth_routes import set_session_cookie
from leadtrail.web.services import services

router = APIRouter(prefix="/api/auth/oidc", tags=["auth"])


def oidc_client(request: Request) -> OidcClient:
    """The app's client, made on first use (None until SSO is configured: 404)."""
    client = getattr(request.app.state, "oidc", None)
    if client is None:
        settings = services(request).settings
        config = config_from(
            settings.oidc_issuer,
            settings.oidc_client_id,
            settings.oidc_client_secret,
            settings.oidc_scopes,
        )
        if config is None:
            raise NotFound("single sign-on is not configured", code="sso_not_configured")
        client = request.app.state.oidc = OidcClient(config, signing_key(settings))
    return client


def _callback_url(request: Request) -> str:
    return str(request.url_for("oidc_callback"))


def _failed(message: str) -> RedirectResponse:
    # Back to the dashboard's login form, which shows why.
    response = RedirectResponse(f"/dashboard/#/login?sso_error={quote(message)}", status_code=303)
    response.delete_cookie(FLOW_COOKIE, path="/api/auth/oidc")
    return response


@router.get("/login", summary="Start single sign-on: redirects to the identity provider")
async def oidc_login(request: Request) -> RedirectResponse:
    client = oidc_client(request)
    target, flow = await client.start(_callback_url(request))
    response = RedirectResponse(target, status_code=303)
    settings = services(request).settings
    response.set_cookie(
        FLOW_COOKIE,
        flow,
        max_age=FLOW_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/api/auth/oidc",
    )
    return response


@router.get(
    "/callback", name="oidc_callback", summary="Where the identity provider sends the browser back"
)
async def oidc_callback(
    request: Request,
    code: str | None = Query(default=None, max_length=2048),
    state: str | None = Query(default=None, max_length=512),
    error: str | None = Query(default=None, max_length=200),
) -> RedirectResponse:
    client = oidc_client(request)
    if error or not code or not state:
        return _failed(f"the identity provider said: {error or 'no code'}")
    try:
        email = await client.finish(
            code=code,
            state=state,
            cookie=request.cookies.get(FLOW_COOKIE, ""),
            redirect_uri=_callback_url(request),
        )
        svc = services(request)
        async with svc.db.transaction(AUTH_CLAIMS) as conn:
            user_id = await conn.fetchval(
                "SELECT id FROM app_users WHERE email = $1 AND disabled_at IS NULL",
                normalize_email(email),
            )
            if user_id is None:
                return _failed(
                    f"no leadtrail account for {email}: ask an administrator for an invitation"
                )
            login = await svc.auth.start_session(
                conn, user_id, request.headers.get("user-agent", "")
            )
    except LeadtrailError as exc:
        return _failed(exc.detail)
    response = RedirectResponse("/dashboard/#/live", status_code=303)
    response.delete_cookie(FLOW_COOKIE, path="/api/auth/oidc")
    set_session_cookie(response, login.cookie_value, svc.settings)
    return response
