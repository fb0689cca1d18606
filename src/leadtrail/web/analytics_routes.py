"""Analytics API: overview, breakdowns, funnel and session drill-downs, JSON or CSV."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from leadtrail.analytics import feed, reports
from leadtrail.analytics.csvout import to_csv
from leadtrail.analytics.dimensions import DIMENSIONS, SEP, drill_prefix, get_dimension
from leadtrail.analytics.ranges import (
    Compare,
    DateRange,
    Interval,
    check_interval,
    default_interval,
    parse_zone,
    resolve_range,
)
from leadtrail.auth.principal import Access, Principal
from leadtrail.errors import BadRequest
from leadtrail.sites.service import Site
from leadtrail.storage import Claims
from leadtrail.web.deps import CurrentPrincipal
from leadtrail.web.downloads import csv_download
from leadtrail.web.services import services
from leadtrail.web.site_scope import resolve_site
from leadtrail.web.text_guard import NO_NUL

router = APIRouter(prefix="/api/analytics", tags=["analytics"], dependencies=[NO_NUL])

Format = Literal["json", "csv"]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report as JSON, or as CSV with `format=csv`.",
        "content": {"application/json": {}, "text/csv": {}},
    }
}


@dataclass(frozen=True)
class Scope:
    """A readable site and the date range a report covers."""

    principal: Principal
    site: Site
    span: DateRange
    format: Format

    def claims(self) -> Claims:
        return self.principal.claims(self.site.id)


async def report_scope(
    request: Request,
    principal: CurrentPrincipal,
    site_id: Annotated[str, Query(description="Site uuid or public id", max_length=64)],
    from_: Annotated[
        str | None,
        Query(alias="from", description="First day, YYYY-MM-DD (default: 6 days before `to`)"),
    ] = None,
    to: Annotated[str | None, Query(description="Last day, included (default: today)")] = None,
    tz: Annotated[
        str | None, Query(description="IANA time zone of the days (default: the site's)")
    ] = None,
    format: Annotated[Format, Query(description="`csv` for a download")] = "json",
) -> Scope:
    site = await resolve_site(services(request).db, principal, site_id, Access.READ)
    zone = parse_zone(tz or site.timezone)
    return Scope(principal, site, resolve_range(from_, to, zone), format)


ReportScope = Annotated[Scope, Depends(report_scope)]


def csv_response(
    scope: Scope, name: str, columns: list[str], rows: list[dict[str, Any]]
) -> Response:
    filename = f"leadtrail-{name}-{scope.site.public_id}-{scope.span.start}-{scope.span.end}.csv"
    return csv_download(filename, to_csv(columns, rows))


SERIES_COLUMNS = [
    "bucket",
    "visitors",
    "sessions",
    "page_views",
    "bounce_rate",
    "avg_duration_sec",
    "avg_actions",
    "conversions",
    "conversion_rate",
    "hot_leads",
    "calls",
    "leads",
]


@router.get("/overview", summary="KPIs, time series and comparison", responses=_RESPONSES)
async def overview(
    request: Request,
    scope: ReportScope,
    interval: Annotated[
        Literal["hour", "day", "week", "month"] | None,
        Query(description="Time-series bucket (default chosen from the range length)"),
    ] = None,
    compare: Annotated[
        Literal["previous", "year", "none"],
        Query(description="Compare with the period just before, a year back, or nothing"),
    ] = "previous",
) -> Any:
    """Visitors (distinct people, HyperLogLog estimate), sessions, page views, bounce rate,
    average duration and actions, conversions and rate, hot leads, calls (matched,
    qualified) and leads for the range, the same for the comparison period with the change
    in percent, and a time series. CSV: the series, one row per bucket, then a total row."""
    step = Interval(interval) if interval else default_interval(scope.span)
    check_interval(scope.span, step)
    async with services(request).db.transaction(scope.claims()) as conn:
        report = await reports.overview(conn, scope.site.id, scope.span, step, Compare(compare))
    body = report.to_json()
    if scope.format == "csv":
        total = {**report.totals, "bucket": "total"}
        return csv_response(scope, "overview", SERIES_COLUMNS, [*body["series"], total])
    return {"site_id": str(scope.site.id), **body}


@router.get(
    "/funnel", summary="Conversion funnel: visitors, returning, converted", responses=_RESPONSES
)
async def funnel(request: Request, scope: ReportScope) -> Any:
    """Seed 000 `get_conversion_funnel`: distinct visitors in the range, those who were
    returning, those who converted, each with its share of all visitors."""
    async with services(request).db.transaction(scope.claims()) as conn:
        body = await reports.funnel(conn, scope.site.id, scope.span)
    if scope.format == "csv":
        return csv_response(scope, "funnel", ["stage", "count", "conversion_rate"], body["stages"])
    return {"site_id": str(scope.site.id), **body}


@router.get("/dimensions", summary="Dimensions a breakdown can use")
async def dimensions() -> list[dict[str, Any]]:
    return [{"name": d.name, "label": d.label, "parts": list(d.parts)} for d in DIMENSIONS.values()]


BREAKDOWN_COLUMNS = [
    "sessions",
    "share",
    "page_views",
    "bounce_rate",
    "avg_duration_sec",
    "avg_actions",
    "conversions",
    "conversion_rate",
    "avg_lead_score",
]


@router.get(
    "/breakdown/{dimension}",
    summary="Sessions broken down by one dimension",
    responses=_RESPONSES,
)
async def breakdown(
    request: Request,
    scope: ReportScope,
    dimension: Annotated[str, Path(description="See GET /api/analytics/dimensions")],
    country: Annotated[
        str | None, Query(description="region/city: only this country (ISO code)")
    ] = None,
    region: Annotated[
        str | None, Query(description="city: only this region", max_length=200)
    ] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=10000, description="Rows (default 50; CSV: all)")
    ] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Any:
    """Top values by sessions, with share, page views, bounce rate, average duration and
    actions, conversions and rate, average lead score. Geography drills down:
    `country` → `region?country=US` → `city?country=US&region=Texas`."""
    dim = get_dimension(dimension)
    prefix = drill_prefix(dim, country, region)
    rows = limit or (10000 if scope.format == "csv" else 50)
    async with services(request).db.transaction(scope.claims()) as conn:
        body = await reports.breakdown(
            conn, scope.site.id, scope.span, dim, prefix=prefix, limit=rows, offset=offset
        )
    if scope.format == "csv":
        return csv_response(
            scope, f"breakdown-{dim.name}", [*dim.parts, *BREAKDOWN_COLUMNS], body["rows"]
        )
    return {"site_id": str(scope.site.id), **body}


SESSION_COLUMNS = [
    "id",
    "created_at",
    "last_seen_at",
    "canonical_user_id",
    "entry_page",
    "exit_page",
    "referrer_domain",
    "referrer_type",
    "utm_source",
    "utm_campaign",
    "attribution_source",
    "browser",
    "os",
    "device_type",
    "country_code",
    "region",
    "city",
    "page_views",
    "event_count",
    "total_duration_sec",
    "is_bounce",
    "lead_score",
    "converted",
]


@router.get("/sessions", summary="Sessions behind a report row (drill-down)", responses=_RESPONSES)
async def sessions(
    request: Request,
    scope: ReportScope,
    dimension: Annotated[str | None, Query(description="Only sessions with this value…")] = None,
    value: Annotated[
        str | None, Query(max_length=400, description="…of the dimension ('' = not known)")
    ] = None,
    country: Annotated[str | None, Query(max_length=8)] = None,
    region: Annotated[str | None, Query(max_length=200)] = None,
    city: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Any:
    """Newest first. Read from the sessions table, so a filtered list covers at most 31
    days; geography filters take `country`, `region`, `city` instead of `value`."""
    dim = get_dimension(dimension) if dimension else None
    wanted: str | None = None
    if dim is not None:
        if len(dim.parts) > 1 or dim.name == "country":
            given = {"country": (country or "").upper(), "region": region or "", "city": city or ""}
            wanted = SEP.join(given[p] for p in dim.parts)
        elif value is None:
            raise BadRequest(
                "value is required with dimension", code="invalid_filter", field="value"
            )
        else:
            wanted = value
    async with services(request).db.transaction(scope.claims()) as conn:
        rows = await feed.drilldown_sessions(
            conn, scope.site.id, scope.span, dim, wanted, limit=limit, offset=offset
        )
    if scope.format == "csv":
        return csv_response(scope, "sessions", SESSION_COLUMNS, rows)
    return {"site_id": str(scope.site.id), "range": reports.range_json(scope.span), "rows": rows}
