"""What the people routes share: reading bodies in server and tracker mode, finding the site
a caller may act on, CORS for the tracker, uuids in paths."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import limits
import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from leadtrail.analytics.ranges import FIRST_DAY, LAST_DAY, in_bounds
from leadtrail.auth import session_tokens
from leadtrail.auth.identity_tokens import server_key
from leadtrail.auth.principal import Access, Principal
from leadtrail.auth.service import AUTH_CLAIMS
from leadtrail.errors import BadRequest, Forbidden, LeadtrailError, NotFound, PayloadTooLarge
from leadtrail.ingest.clientip import Network, client_ip, parse_networks
from leadtrail.ingest.privacy import IGNORED_DNT, asks_not_to_be_tracked, respects_dnt
from leadtrail.ratelimit import parse_limit
from leadtrail.sites.domains import origin_allowed
from leadtrail.sites.people import PeopleSettings
from leadtrail.sites.service import get_site
from leadtrail.storage import Claims, DbRole
from leadtrail.web.deps import current_principal
from leadtrail.web.errors import error_response
from leadtrail.web.services import services

MAX_BODY = 64 * 1024
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class SiteRef:
    id: UUID
    public_id: str
    domain: str
    allowed_origins: tuple[str, ...]
    timezone: str
    settings: dict[str, Any] = field(hash=False)

    @property
    def people(self) -> PeopleSettings:
        return PeopleSettings.from_site(self.settings)


@dataclass(frozen=True)
class Caller:
    """Who a people request acts for, with the claims its transaction runs under."""

    site: SiteRef
    claims: Claims
    actor: str
    #: the tracker's Origin when called from a browser without a key
    origin: str | None = None


async def read_object(request: Request) -> dict[str, Any]:
    """The JSON object in the body, whatever the content type (the tracker sends text/plain)."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        raise PayloadTooLarge(f"the body is over {MAX_BODY // 1024} KB")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"the body is over {MAX_BODY // 1024} KB")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not valid JSON", code="invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_json")
    return data


def validate(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first.get("loc", ())) or None
        raise BadRequest(
            f"{name}: {first['msg']}" if name else first["msg"], code="invalid_request", field=name
        ) from None


def parse_uuid(value: str, name: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise BadRequest(f"{name} must be a UUID", code="invalid_uuid", field=name) from None


def _ref(data: Mapping[str, Any]) -> SiteRef:
    return SiteRef(
        data["id"],
        data["public_id"],
        data["domain"],
        tuple(data["allowed_origins"]),
        data["timezone"],
        dict(data["settings"]),
    )


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


async def site_for(
    request: Request, principal: Principal, ref: str | None, need: Access
) -> SiteRef:
    """A site the caller names (uuid or public id) and may act on; 404 if not theirs."""
    if not ref:
        if len(principal.site_ids) == 1:
            ref = str(principal.site_ids[0])
        else:
            raise BadRequest("site_id is required", code="invalid_request", field="site_id")
    claims = Claims(role=DbRole.ANALYST, sub=str(principal.id), site_ids=principal.site_ids)
    async with services(request).db.transaction(claims) as conn:
        site = await get_site(conn, ref)
    principal.require(site.id, need)
    return _ref(vars(site))


async def server_caller(request: Request, site_ref: str | None, need: Access) -> Caller:
    principal = await current_principal(request)
    site = await site_for(request, principal, site_ref, need)
    return Caller(site, principal.claims(site.id, need=need), f"{principal.kind}:{principal.id}")


async def tracker_caller(request: Request, public_id: Any, component: str) -> Caller:
    """The tracker's way in: no key, the site's public id, and an Origin of the site.

    Unlike ``/api/sync``, a request without Origin is refused: without a key only a browser
    may call, and servers use the key mode. ``Origin: null`` (sandboxed iframes, file: pages)
    belongs to no site, so it is refused like a foreign origin."""
    origin = request.headers.get("origin")
    if not isinstance(public_id, str) or not public_id:
        raise BadRequest("s (the site's public id) is required", code="invalid_request", field="s")
    async with services(request).db.transaction(AUTH_CLAIMS) as conn:
        row = await conn.fetchrow(
            "SELECT id, public_id, domain, allowed_origins, timezone, settings FROM sites WHERE public_id = $1",
            public_id,
        )
    if row is None:
        raise NotFound(f"no site {public_id!r}", code="site_not_found")
    site = _ref(dict(row))
    if not origin or not origin_allowed(origin, site.domain, site.allowed_origins):
        raise Forbidden("this origin may not send data for the site", code="origin_not_allowed")
    claims = Claims(role=DbRole.WRITER, sub=component, site_ids=(site.id,))
    return Caller(site, claims, f"tracker:{site.public_id}", origin)


def require_session_token(request: Request, caller: Caller, sid: UUID | None, token: Any) -> None:
    """A tracker call naming a session must carry the token the server gave that session's
    browser (auth/session_tokens.py): a bare ``sid`` is not proof of being that visitor."""
    if sid is None:
        return
    key = session_tokens.token_key(server_key(services(request).settings))
    if not isinstance(token, str) or not session_tokens.valid(key, caller.site.id, sid, token):
        raise Forbidden(
            "k must be the session token /api/sync answered for this sid "
            "(missing, forged, expired or for another session or site)",
            code="invalid_session_token",
            field="k",
        )


def tracker_opted_out(request: Request, caller: Caller) -> Response | None:
    """On a site with ``respect_dnt``, a browser sending Do-Not-Track or Global Privacy
    Control gets what ``/api/sync`` answers (202, ``reason: dnt``) and nothing is stored."""
    if respects_dnt(caller.site.settings) and asks_not_to_be_tracked(request.headers):
        return json(IGNORED_DNT, 202, caller.origin)
    return None


def cors(response: Response, origin: str | None) -> Response:
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


def tracker_error(exc: LeadtrailError, request: Request) -> Response:
    """Errors in tracker mode still carry CORS headers so the page's script can read them."""
    origin = request.headers.get("origin")
    response = error_response(exc)
    if exc.code != "origin_not_allowed":
        cors(response, origin)
    return response


def preflight(request: Request) -> Response:
    response = Response(status_code=204)
    origin = request.headers.get("origin")
    if origin:
        cors(response, origin)
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    return response


def json(data: Any, status: int = 200, origin: str | None = None) -> JSONResponse:
    response = JSONResponse(orjson.loads(orjson.dumps(data, default=_default)), status_code=status)
    cors(response, origin)
    return response


def body_schema(*models: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI request body for routes that read the body themselves."""
    schema = {"anyOf": [m.model_json_schema() for m in models]}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}, "text/plain": {"schema": schema}},
        }
    }


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # exclusive

    @property
    def days(self) -> tuple[date, date]:
        """Calendar days covered (inclusive), for daily ad spend."""
        return self.start.date(), (self.end - timedelta(microseconds=1)).date()


def _instant(value: str, zone: ZoneInfo, name: str, *, end: bool) -> datetime:
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            _check_bounds(day, name)
            start = datetime.combine(day, time.min, zone)
            return start + timedelta(days=1) if end else start
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"{name} must be a date (YYYY-MM-DD) or an ISO time", code="invalid_period", field=name
        ) from None
    # the wall-clock date: comparing instants could itself overflow near year 1 or 9999
    _check_bounds(moment.date(), name)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _check_bounds(day: date, name: str) -> None:
    if not in_bounds(day):
        raise BadRequest(
            f"{name} must be between {FIRST_DAY} and {LAST_DAY}", code="invalid_period", field=name
        )


def period(start: str | None, end: str | None, timezone: str, default_days: int = 30) -> Period:
    """``from``/``to`` query values; dates are whole days in the site's time zone and
    ``to`` is inclusive for dates, exclusive for times. Default: the last 30 days."""
    zone = ZoneInfo(timezone)
    stop = _instant(end, zone, "to", end=True) if end else datetime.now(UTC)
    begin = (
        _instant(start, zone, "from", end=False) if start else stop - timedelta(days=default_days)
    )
    if begin >= stop:
        raise BadRequest("from must be before to", code="invalid_period", field="from")
    if stop - begin > timedelta(days=731):
        raise BadRequest("a period is at most two years", code="invalid_period", field="from")
    return Period(begin, stop)


@functools.lru_cache(maxsize=16)
def _limit(rate: str) -> limits.RateLimitItem:
    return parse_limit(rate, "rate")


@functools.lru_cache(maxsize=4)
def _trusted(spec: str) -> tuple[Network, ...]:
    return parse_networks(spec)


def request_ip(request: Request) -> str | None:
    """The client's address (behind trusted proxies, the forwarded one)."""
    peer = request.client.host if request.client else None
    trusted = _trusted(services(request).settings.trusted_proxies)
    return client_ip(peer, request.headers.get("x-forwarded-for"), trusted)


async def rate_limit(request: Request, scope: str, rate: str) -> None:
    """Count this request against ``rate`` per client IP, with the limiter ``/api/sync`` uses."""
    await services(request).limiter.hit(_limit(rate), scope, request_ip(request) or "unknown")
