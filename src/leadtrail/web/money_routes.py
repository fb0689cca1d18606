"""Attribution, ad spend, campaign ROI and the Google Ads offline-conversion export."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from leadtrail.adspend import google_ads, microsoft_ads
from leadtrail.adspend import service as spend_service
from leadtrail.adspend.rows import parse_row
from leadtrail.analytics.csvout import to_csv
from leadtrail.attribution.models import MODELS
from leadtrail.attribution.service import CONVERSION_TYPES, report
from leadtrail.auth.principal import Access, Principal
from leadtrail.errors import BadRequest
from leadtrail.identity import tx
from leadtrail.web.deps import CurrentPrincipal
from leadtrail.web.downloads import CsvResponse, csv_download
from leadtrail.web.people_common import Period, SiteRef, json, period, server_caller, site_for
from leadtrail.web.services import services
from leadtrail.web.text_guard import NO_NUL

router = APIRouter(tags=["attribution and ad spend"], dependencies=[NO_NUL])
SiteParam = Query(default=None, description="Site uuid or public id")
FromParam = Query(
    default=None,
    alias="from",
    description="YYYY-MM-DD (site time zone) or ISO time; default 30 days ago",
)
ToParam = Query(
    default=None, description="YYYY-MM-DD (inclusive) or ISO time (exclusive); default now"
)
FormatParam = Query(default="json", description="`csv` for a download")
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report as JSON, or as CSV with `format=csv`.",
        "content": {"application/json": {}, "text/csv": {}},
    }
}
Model = Literal[
    "first_touch", "last_touch", "last_non_direct", "linear", "time_decay", "position_based"
]
assert set(Model.__args__) == set(MODELS)  # type: ignore[attr-defined]


def _types(value: str) -> tuple[str, ...]:
    types = tuple(sorted({t.strip() for t in value.split(",") if t.strip()}))
    if not types or any(t not in CONVERSION_TYPES for t in types):
        raise BadRequest(
            "conversions is a comma list of lead, call, event",
            code="invalid_request",
            field="conversions",
        )
    return types


def _csv(
    name: str, site: SiteRef, span: Period, columns: list[str], rows: list[dict[str, Any]]
) -> Response:
    """A download named like the analytics reports' CSVs (site, first and last day)."""
    first, last = span.days
    return csv_download(
        f"leadtrail-{name}-{site.public_id}-{first}-{last}.csv", to_csv(columns, rows)
    )


ATTRIBUTION_COLUMNS = ["conversions", "value", "touches", "conversions_touched"]
CAMPAIGN_COLUMNS = [
    "platform",
    "campaign_id",
    "campaign",
    "unique_users",
    "total_sessions",
    "conversions",
    "conversion_rate",
    "clicks",
    "impressions",
    "total_ad_spend",
    "total_revenue",
    "avg_roi",
    "cost_per_conversion",
    "currency",
]


@router.get(
    "/api/attribution",
    summary="Conversions and value credited to channels, sources or campaigns",
    responses=_RESPONSES,
)
async def attribution(
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = SiteParam,
    model: Model | None = Query(default=None, description="Default: the site's model"),
    start: str | None = FromParam,
    to: str | None = ToParam,
    group_by: Literal["channel", "source", "campaign"] = Query(default="channel"),
    conversions: str = Query(default="lead,call", description="Comma list of lead, call, event"),
    lookback_days: int | None = Query(
        default=None, ge=1, le=540, description="Default: the site's click lookback (90)"
    ),
    half_life_days: float | None = Query(
        default=None, gt=0, le=365, description="time_decay only; default the site's (7)"
    ),
    format: Literal["json", "csv"] = FormatParam,
) -> Response:
    """CSV: one row per group, its credit (`conversions`), `value`, `touches` and
    `conversions_touched`."""
    site = await site_for(request, principal, site_id, Access.READ)
    span = period(start, to, site.timezone)
    types = _types(conversions)
    async with services(request).db.transaction(principal.claims(site.id)) as conn:
        out = await report(
            conn,
            site.id,
            model=model or site.people.attribution_model,
            start=span.start,
            end=span.end,
            group_by=group_by,
            types=types,
            lookback_days=lookback_days or site.people.click_lookback_days,
            half_life_days=half_life_days or site.people.attribution_half_life_days,
        )
    if format == "csv":
        columns = [group_by, *ATTRIBUTION_COLUMNS]
        return _csv(f"attribution-{group_by}", site, span, columns, out["results"])
    return json(out)


class SpendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site_id: str | None = Field(default=None, description="Site uuid or public id")
    rows: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=10_000,
        description="platform, campaign_id, campaign_name, date, clicks, impressions, cost, currency, gclid?",
    )


@router.post(
    "/api/ad-spend", summary="Upsert ad spend rows (daily per campaign, or per click with gclid)"
)
async def post_ad_spend(body: SpendBody, request: Request) -> Response:
    caller = await server_caller(request, body.site_id, Access.OPERATE)
    currency = caller.site.people.currency
    rows = [parse_row(raw, f"rows[{i}]", currency) for i, raw in enumerate(body.rows)]
    out = await tx.run(
        services(request).db,
        caller.claims,
        lambda conn: spend_service.upsert(conn, caller.site.id, rows, "api"),
    )
    return json({"status": "stored", **out})


@router.get("/api/ad-spend", summary="Ad spend per campaign and day")
async def get_ad_spend(
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = SiteParam,
    start: str | None = FromParam,
    to: str | None = ToParam,
) -> Response:
    site = await site_for(request, principal, site_id, Access.READ)
    first, last = period(start, to, site.timezone).days
    async with services(request).db.transaction(principal.claims(site.id)) as conn:
        rows = await spend_service.list_spend(conn, site.id, first, last)
    return json({"from": first, "to": last, "rows": rows})


@router.get(
    "/api/campaigns/performance",
    summary="Users, sessions, conversions, spend, revenue and ROI per campaign",
    responses=_RESPONSES,
)
async def campaigns_performance(
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = SiteParam,
    start: str | None = FromParam,
    to: str | None = ToParam,
    model: Model | None = Query(
        default=None,
        description="How conversions are credited to campaigns; default: the site's model",
    ),
    format: Literal["json", "csv"] = FormatParam,
) -> Response:
    """CSV: one row per campaign with the JSON rows' fields and the site's `currency`."""
    site = await site_for(request, principal, site_id, Access.READ)
    span = period(start, to, site.timezone)
    first, last = span.days
    async with services(request).db.transaction(principal.claims(site.id)) as conn:
        rows = await spend_service.campaign_performance(
            conn,
            site.id,
            start=span.start,
            end=span.end,
            start_day=first,
            end_day=last,
            model=model or site.people.attribution_model,
            half_life_days=site.people.attribution_half_life_days,
            lookback_days=site.people.click_lookback_days,
        )
    if format == "csv":
        currency = site.people.currency
        rows = [{**row, "currency": currency} for row in rows]
        return _csv("campaigns", site, span, CAMPAIGN_COLUMNS, rows)
    return json(
        {
            "from": span.start,
            "to": span.end,
            "model": model or site.people.attribution_model,
            "currency": site.people.currency,
            "campaigns": rows,
        }
    )


async def _offline_conversions(
    request: Request,
    principal: Principal,
    site_id: str | None,
    start: str | None,
    to: str | None,
    conversion_name: str,
    conversions: str,
    *,
    click: str,
) -> tuple[SiteRef, str, list[google_ads.OfflineConversion]]:
    """What both offline-conversion exports read: the site, the checked conversion name and
    the qualified leads and calls credited to an ad click of kind ``click``."""
    site = await site_for(request, principal, site_id, Access.READ)
    name = google_ads.conversion_name(conversion_name)
    span = period(start, to, site.timezone, default_days=90)
    types = [t for t in _types(conversions) if t != "event"]
    async with services(request).db.transaction(principal.claims(site.id)) as conn:
        rows = await spend_service.offline_conversions(
            conn, site.id, span.start, span.end, types, click=click
        )
    return site, name, rows


@router.get(
    "/api/exports/google-ads-offline-conversions.csv",
    summary="Qualified calls and leads with a gclid, as a Google Ads offline conversion import file",
    response_class=CsvResponse,
)
async def google_ads_export(
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = SiteParam,
    start: str | None = FromParam,
    to: str | None = ToParam,
    conversion_name: str = Query(
        default="Offline conversion", description="The conversion action's name in Google Ads"
    ),
    conversions: str = Query(default="lead,call", description="lead, call or both"),
) -> Response:
    site, name, rows = await _offline_conversions(
        request, principal, site_id, start, to, conversion_name, conversions, click="gclid"
    )
    text = google_ads.render(rows, name, site.timezone, site.people.currency)
    return csv_download(f"google-ads-offline-conversions-{site.public_id}.csv", text)


@router.get(
    "/api/exports/microsoft-ads-offline-conversions.csv",
    summary="Qualified calls and leads with an msclkid, as a Microsoft Advertising offline conversion import file",
    response_class=CsvResponse,
)
async def microsoft_ads_export(
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = SiteParam,
    start: str | None = FromParam,
    to: str | None = ToParam,
    conversion_name: str = Query(
        default="Offline conversion", description="The conversion goal's name in Microsoft Ads"
    ),
    conversions: str = Query(default="lead,call", description="lead, call or both"),
) -> Response:
    site, name, rows = await _offline_conversions(
        request, principal, site_id, start, to, conversion_name, conversions, click="msclkid"
    )
    text = microsoft_ads.render(rows, name, site.people.currency)
    return csv_download(f"microsoft-ads-offline-conversions-{site.public_id}.csv", text)
