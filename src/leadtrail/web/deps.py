"""FastAPI dependencies: who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from leadtrail.auth.principal import Principal
from leadtrail.auth.service import COOKIE_NAME
from leadtrail.errors import Unauthorized
from leadtrail.web.csrf import check_same_origin
from leadtrail.web.services import services


async def current_principal(request: Request) -> Principal:
    """A bearer API key, else the dashboard cookie; 401 otherwise."""
    auth = services(request).auth
    header = request.headers.get("authorization")
    if header:
        return await auth.from_bearer(header)
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        check_same_origin(request, services(request).settings.base_url)
        principal = await auth.from_session_token(cookie)
        if principal is not None:
            return principal
    raise Unauthorized("log in or send 'Authorization: Bearer <api key>'", code="unauthorized")


async def current_user(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.kind != "user":
        raise Unauthorized("this endpoint needs a dashboard login", code="login_required")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
CurrentUser = Annotated[Principal, Depends(current_user)]
