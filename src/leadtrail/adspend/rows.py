"""Ad spend rows (pure): validation shared by ``POST /api/ad-spend`` and the CSV import,
and the CSV reader with the header names ad platforms export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from leadtrail.errors import BadRequest

MAX_ROWS = 50_000
_PLATFORM = re.compile(r"^[a-z0-9_]{1,40}$")
_GCLID = re.compile(r"^[A-Za-z0-9_-]{10,200}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")

#: header (lower-cased) -> our field; Google Ads, Microsoft Ads and Meta exports included
ALIASES = {
    "platform": "platform",
    "ad_platform": "platform",
    "campaign_id": "campaign_id",
    "campaign id": "campaign_id",
    "campaign_name": "campaign_name",
    "campaign name": "campaign_name",
    "campaign": "campaign_name",
    "date": "date",
    "day": "date",
    "reporting starts": "date",
    "clicks": "clicks",
    "impressions": "impressions",
    "impr.": "impressions",
    "cost": "cost",
    "amount spent": "cost",
    "spend": "cost",
    "currency": "currency",
    "currency code": "currency",
    "gclid": "gclid",
    "google click id": "gclid",
}


@dataclass(frozen=True)
class SpendRow:
    platform: str
    campaign_id: str
    campaign_name: str
    date: date
    clicks: int
    impressions: int
    cost: Decimal
    currency: str
    gclid: str = ""


def _bad(where: str, message: str, field: str) -> BadRequest:
    return BadRequest(f"{where}: {message}", code="invalid_ad_spend", field=field)


def parse_row(raw: Mapping[str, object], where: str, default_currency: str) -> SpendRow:
    """One row from JSON or CSV values; ``where`` names it in errors (``rows[3]``, ``line 4``)."""

    def text(name: str) -> str:
        value = raw.get(name)
        return "" if value is None else str(value).strip()

    platform = text("platform").lower().replace(" ", "_") or "google_ads"
    if not _PLATFORM.match(platform):
        raise _bad(where, "platform is 1-40 letters, digits or _", "platform")
    campaign_id = text("campaign_id") or text("campaign_name")
    if not campaign_id or len(campaign_id) > 200:
        raise _bad(
            where,
            "campaign_id (or campaign_name) is required, at most 200 characters",
            "campaign_id",
        )
    campaign_name = text("campaign_name")[:300]
    try:
        day = date.fromisoformat(text("date"))
    except ValueError:
        raise _bad(where, "date must be YYYY-MM-DD", "date") from None
    numbers: dict[str, int] = {}
    for name in ("clicks", "impressions"):
        value = text(name).replace(",", "") or "0"
        if not value.isdigit() or len(value) > 10:
            raise _bad(where, f"{name} must be a whole number >= 0", name)
        numbers[name] = int(value)
    try:
        cost = Decimal(text("cost").replace(",", "") or "x")
    except InvalidOperation:
        raise _bad(where, "cost must be a number", "cost") from None
    if not cost.is_finite() or cost < 0 or cost >= Decimal(10) ** 10:
        raise _bad(where, "cost must be a number >= 0", "cost")
    currency = (text("currency") or default_currency).upper()
    if not _CURRENCY.match(currency):
        raise _bad(where, "currency must be a 3-letter ISO code", "currency")
    if currency != default_currency:
        raise BadRequest(
            f"{where}: the site reports in {default_currency}; leadtrail does not convert currencies",
            code="currency_mismatch",
            field="currency",
        )
    gclid = text("gclid")
    if gclid and not _GCLID.match(gclid):
        raise _bad(where, "gclid has unexpected characters", "gclid")
    return SpendRow(
        platform,
        campaign_id,
        campaign_name,
        day,
        numbers["clicks"],
        numbers["impressions"],
        cost.quantize(Decimal("0.0001")),
        currency,
        gclid,
    )


def read_csv(text: str, default_currency: str) -> list[SpendRow]:
    """Rows of a CSV file whose header names the columns (any order, known aliases)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header: list[str] | None = None
    rows: list[SpendRow] = []
    for number, cells in enumerate(reader, start=1):
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header = [ALIASES.get(c.strip().lower(), "") for c in cells]
            if "date" not in header or "cost" not in header:
                raise BadRequest(
                    "the CSV header needs at least date and cost columns (and campaign_id or campaign_name)",
                    code="invalid_ad_spend",
                )
            continue
        if len(rows) >= MAX_ROWS:
            raise BadRequest(f"at most {MAX_ROWS} rows per import", code="invalid_ad_spend")
        raw = {name: cell for name, cell in zip(header, cells, strict=False) if name}
        rows.append(parse_row(raw, f"line {number}", default_currency))
    if header is None:
        raise BadRequest("the CSV file is empty", code="invalid_ad_spend")
    return rows


def dedupe(rows: Iterable[SpendRow]) -> list[SpendRow]:
    """The last row wins when a file repeats a (platform, campaign, date, gclid)."""
    out: dict[tuple[str, str, date, str], SpendRow] = {}
    for row in rows:
        out[(row.platform, row.campaign_id, row.date, row.gclid)] = row
    return list(out.values())
