"""Why a site's traffic was not stored: ``GET /api/sites/{site}/ignored-traffic``.

A new user whose test browser is headless, or whose site runs on a domain they did not
register, sees an empty dashboard; this says what was refused, how often, and what to do.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from leadtrail.auth.principal import Access
from leadtrail.storage.queries import load
from leadtrail.web.deps import CurrentPrincipal
from leadtrail.web.services import services
from leadtrail.web.site_scope import resolve_site

Q = load("leadtrail.ingest")
router = APIRouter(tags=["sites"])

HINTS = {
    "headless": "Headless browsers (HeadlessChrome, Playwright, Puppeteer, PhantomJS) are treated "
    "as bots and not stored. Check the site in a normal browser, or give your test tool a "
    "regular user agent.",
    "crawler": "Known crawlers and bots are not stored.",
    "empty": "Requests without a user agent are treated as bots and not stored.",
    "dnt": "The browser sends Do Not Track or Global Privacy Control and this site respects it "
    "(setting respect_dnt).",
    "origin_not_allowed": "These pages are not on the site's domain or its allowed origins. "
    "Add the origin in Settings (domain or allowed origins) if it is yours.",
}


@router.get(
    "/api/sites/{site}/ignored-traffic",
    summary="Tracker traffic that was not stored, by reason, with what to do about it",
)
async def ignored_traffic(
    site: str, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    db = services(request).db
    found = await resolve_site(db, principal, site, Access.READ)
    async with db.transaction(principal.claims(found.id, need=Access.READ)) as conn:
        rows = await conn.fetch(Q.site_rejections, found.id)
    return {"ignored": [{**r, "hint": HINTS.get(r["reason"], "")} for r in rows]}
