"""Ad spend rows (pure): validation shared by ``POST /api/ad-spend`` and the CSV import,
and the CSV reader with the header names ad platforms export."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from leadtrail.analytics.ranges import FIRST_DAY, LAST_DAY, in_bounds
from leadtrail.errors import BadRequest

MAX_ROWS = 50_000
_PLATFORM = re.compile(r"^[a-z0-9_]{1,40}$")
_GCLID = re.compile(r"^[A-Za-z0-9_-]{10,200}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
#: ASCII digits only: ``str.isdigit`` also accepts "²" or "٣", which ``int`` refuses or reads
_COUNT = re.compile(r"[0-9]+")
#: ``clicks`` and ``impressions`` are PostgreSQL ``integer``
MAX_COUNT = 2**31 - 1
#: ``cost`` is ``numeric(14, 4)``
MAX_COST = Decimal("9999999999.9999")
_COST_STEP = Decimal("0.0001")

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
    for name, value in (("campaign_name", campaign_name), ("campaign_id", campaign_id)):
        if "\x00" in value:
            raise _bad(where, f"{name} contains a NUL character", name)
    try:
        day = date.fromisoformat(text("date"))
    except ValueError:
        raise _bad(where, "date must be YYYY-MM-DD", "date") from None
    if not in_bounds(day):
        raise _bad(where, f"date must be between {FIRST_DAY} and {LAST_DAY}", "date")
    numbers = {name: _count(text(name), where, name) for name in ("clicks", "impressions")}
    cost = _cost(text("cost"), where)
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
        cost,
        currency,
        gclid,
    )


def _count(text: str, where: str, name: str) -> int:
    """A whole number that fits the integer column (thousands separators allowed)."""
    value = text.replace(",", "") or "0"
    # length first: int() of a huge digit string is slow, or refused past 4300 digits
    if not _COUNT.fullmatch(value) or len(value.lstrip("0")) > 10 or int(value) > MAX_COUNT:
        raise _bad(where, f"{name} must be a whole number from 0 to {MAX_COUNT}", name)
    return int(value)


def _cost(text: str, where: str) -> Decimal:
    """An amount >= 0 that fits ``numeric(14, 4)`` once rounded to 4 decimals."""
    value = text.replace(",", "")
    try:
        if not value or not value.isascii():
            raise InvalidOperation
        cost = Decimal(value)
    except InvalidOperation:
        raise _bad(where, "cost must be a number", "cost") from None
    # compare before rounding too: quantize() fails on a number too long for its context
    if not cost.is_finite() or cost < 0 or cost > MAX_COST + _COST_STEP:
        raise _bad(where, f"cost must be a number from 0 to {MAX_COST}", "cost")
    rounded = cost.quantize(_COST_STEP)
    if rounded > MAX_COST:  # 9999999999.99995 rounds up past the column's range
        raise _bad(where, f"cost must be a number from 0 to {MAX_COST}", "cost")
    return rounded


def read_csv(text: str, default_currency: str) -> list[SpendRow]:
    """Rows of a CSV file whose header names the columns (any order, known aliases)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header: list[str] | None = None
    rows: list[SpendRow] = []
    for number, cells in _lines(reader):
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


def _lines(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """Numbered CSV records; a malformed one (an oversized field, say) is a one-line error."""
    number = 0
    while True:
        number += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise BadRequest(f"line {number}: {exc}", code="invalid_ad_spend") from None
        yield number, cells
